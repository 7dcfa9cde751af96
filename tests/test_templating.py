"""The escaping layer is the template environment's: a project's own Markdown template gets it too."""

from __future__ import annotations

from markdown_structure import assert_untrusted_text_stayed_text, tables
from mlship.markdown import Markdown
from mlship.templating import environment

HOSTILE = "x\n<h2>passed</h2> | @octocat `y` </details>"


def test_a_projects_own_markdown_template_escapes_what_it_prints_however_it_prints_it(tmp_path):
    folder = tmp_path / ".mlship" / "templates"
    folder.mkdir(parents=True)
    (folder / "custom.md.j2").write_text(
        "| a | b |\n|--|--|\n| {{ value }} | {{ value | code }} |\n| {{ 'joined ' ~ value }} | {{ [value] | join }} |\n"
        "| {{ trusted }} | {{ value | upper }} |\n")
    text = environment(tmp_path).get_template("custom.md.j2").render(value=HOSTILE, trusted=Markdown("**bold**"))
    assert_untrusted_text_stayed_text(text)
    (rows,) = tables(text)
    shown = " ".join(HOSTILE.split())
    assert rows == [[shown, shown], ["joined " + shown, shown], ["bold", shown.upper()]]


def test_a_template_that_is_not_markdown_prints_values_as_they_are(tmp_path):
    folder = tmp_path / ".mlship" / "templates"
    folder.mkdir(parents=True)
    (folder / "service.yaml.j2").write_text("name: {{ value }}\n")
    assert environment(tmp_path).get_template("service.yaml.j2").render(value="a|b_c") == "name: a|b_c\n"
