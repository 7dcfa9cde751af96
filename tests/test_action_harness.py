"""Tests of the composite-action harness (tests/action_harness.py), each with a tiny action.yml."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import textwrap
from pathlib import Path

import pytest

from action_harness import (
    DEFAULT_STAND_INS,
    ExpressionError,
    HarnessError,
    StandInFailure,
    UnsupportedSyntax,
    default_environment,
    evaluate_expression,
    load_action,
    run_action,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty workspace (GITHUB_WORKSPACE)."""
    root = tmp_path / "repo"
    root.mkdir()
    return root


def write_action(repo: Path, text: str, folder: str = "actions/x") -> Path:
    directory = repo / folder
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "action.yml").write_text(textwrap.dedent(text).lstrip())
    return directory


def run(repo: Path, text: str, inputs: dict | None = None, **kwargs):
    write_action(repo, text)
    return run_action("./actions/x", inputs, workspace=repo, **kwargs)


# --------------------------------------------------------------------------------------
# Loading action.yml
# --------------------------------------------------------------------------------------


def test_load_reads_metadata_inputs_outputs_and_steps(repo: Path) -> None:
    folder = write_action(repo, """
        name: X
        description: An action
        inputs:
          model: {description: the model, required: true}
          level: {description: lvl, default: '3', deprecationMessage: use tier}
        outputs:
          verdict: {description: v, value: "${{ steps.a.outputs.v }}"}
        runs:
          using: composite
          steps:
            - id: a
              run: echo hi
              shell: bash
        """)
    spec = load_action(folder)
    assert (spec.name, spec.description) == ("X", "An action")
    assert spec.inputs["model"].required and spec.inputs["model"].default is None
    assert spec.inputs["level"].default.source == "3"
    assert spec.inputs["level"].deprecation_message == "use tier"
    assert spec.outputs["verdict"].value.source == "${{ steps.a.outputs.v }}"
    assert [s.id for s in spec.steps] == ["a"]


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("runs: {using: node20, main: index.js}", UnsupportedSyntax, "composite actions only"),
        ("runs:\n  using: composite\n  steps:\n    - run: echo hi", HarnessError, "must set `shell`"),
        ("runs:\n  using: composite\n  steps:\n    - run: echo hi\n      shell: pwsh", UnsupportedSyntax, "pwsh"),
        ("runs:\n  using: composite\n  steps:\n    - run: echo\n      shell: bash\n      timeout-minutes: 1",
         UnsupportedSyntax, "timeout-minutes"),
        ("runs:\n  using: composite\n  steps:\n    - uses: docker://alpine:3", UnsupportedSyntax, "docker"),
        ("runs:\n  using: composite\n  steps:\n    - uses: actions/checkout", HarnessError, "owner/repo"),
        ("runs:\n  using: composite\n  steps:\n    - {id: a, run: x, shell: bash}\n    - {id: a, run: y, shell: bash}",
         HarnessError, "more than once"),
        ("runs:\n  using: composite\n  steps:\n    - run: echo ${{ secrets.TOKEN }}\n      shell: bash",
         UnsupportedSyntax, "secrets context is not available in composite actions"),
        ("runs:\n  using: composite\n  steps:\n    - run: echo ${{ success() }}\n      shell: bash",
         HarnessError, "only allowed in `if:`"),
        ("pre: x\nruns:\n  using: composite\n  steps:\n    - {run: x, shell: bash}", UnsupportedSyntax, "pre"),
    ],
)
def test_load_fails_loudly_naming_file_step_and_construct(repo: Path, body: str, error: type, message: str) -> None:
    folder = write_action(repo, "name: X\n" + body + "\n")
    with pytest.raises(error, match=message) as caught:
        load_action(folder)
    assert str(folder / "action.yml") in str(caught.value)


def test_errors_name_the_step(repo: Path) -> None:
    folder = write_action(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {run: echo, shell: bash}
            - id: second
              run: echo ${{ inputs.a = 1 }}
              shell: bash
        """)
    with pytest.raises(HarnessError, match=r"step 2 \(id: second\): run.*'='"):
        load_action(folder)


def test_yaml_is_read_with_the_core_schema_like_the_runner(repo: Path) -> None:
    result = run(repo, """
        name: X
        inputs:
          answer: {default: yes}
          python: {default: 3.10}
          mode: {default: 0755}
        outputs:
          all: {value: "${{ inputs.answer }} ${{ inputs.python }} ${{ inputs.mode }}"}
        runs:
          using: composite
          steps: [{run: 'true', shell: bash}]
        """)
    # YAML 1.1 would make `yes` a boolean and 0755 octal; GitHub keeps `yes`, and reads 3.10 as 3.1.
    assert result.outputs["all"] == "yes 3.1 755"


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------

INPUTS_ACTION = """
    name: X
    inputs:
      Model: {description: m, required: true}
      level: {description: l, default: "${{ github.repository }}-3"}
      old: {description: o, deprecationMessage: use level}
    outputs:
      seen: {value: "${{ inputs.model }}|${{ inputs.LEVEL }}|${{ inputs.old }}"}
    runs:
      using: composite
      steps:
        - run: env | grep '^INPUT_' || true
          shell: bash
          id: env
    """


def test_inputs_override_defaults_and_match_case_insensitively(repo: Path) -> None:
    result = run(repo, INPUTS_ACTION, {"model": "iris", "old": True}, github={"repository": "o/r"})
    assert result.outputs["seen"] == "iris|o/r-3|true"
    assert result.inputs == {"Model": "iris", "old": "true", "level": "o/r-3"}
    assert result.warnings == ["Input 'old' has been deprecated with message: use level"]
    assert result.steps["env"].stdout == ""  # no INPUT_* variables for composite actions


def test_missing_required_input_and_unexpected_input_fail_by_default(repo: Path) -> None:
    with pytest.raises(HarnessError, match="required and not supplied: Model"):
        run(repo, INPUTS_ACTION)
    with pytest.raises(HarnessError, match="unexpected input.*'modle'"):
        run(repo, INPUTS_ACTION, {"model": "a", "modle": "b"})


def test_lenient_inputs_only_warn_as_github_does(repo: Path) -> None:
    result = run(repo, INPUTS_ACTION, {"modle": "b"}, strict_inputs=False)
    assert not result.failed
    assert result.outputs["seen"] == "|-3|"
    assert any("unexpected input" in w for w in result.warnings)
    assert any("required and not supplied: Model" in w for w in result.warnings)


# --------------------------------------------------------------------------------------
# Outputs and GITHUB_OUTPUT
# --------------------------------------------------------------------------------------


def test_outputs_from_github_output_lines_and_heredocs(repo: Path) -> None:
    result = run(repo, """
        name: X
        outputs:
          simple: {value: "${{ steps.s.outputs.simple }}"}
          multi: {value: "${{ steps.s.outputs.multi }}"}
          equals: {value: "${{ steps.s.outputs.eq }}"}
          literal: {value: "v=${{ steps.s.outputs.simple }}!"}
        runs:
          using: composite
          steps:
            - id: s
              shell: bash
              run: |
                echo "simple=one" >> "$GITHUB_OUTPUT"
                echo "eq=a=b<<c" >> "$GITHUB_OUTPUT"
                {
                  echo "multi<<END_OF_VALUE"
                  printf 'line 1\\n\\nline 3 = x\\n'
                  echo "END_OF_VALUE"
                } >> "$GITHUB_OUTPUT"
        """)
    assert not result.failed, result.report()
    assert result.outputs == {"simple": "one", "multi": "line 1\n\nline 3 = x", "equals": "a=b<<c", "literal": "v=one!"}
    assert result.steps["s"].outputs["multi"] == "line 1\n\nline 3 = x"


def test_heredoc_without_its_delimiter_fails_the_step(repo: Path) -> None:
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - id: s
              shell: bash
              run: |
                echo "v<<EOF" >> "$GITHUB_OUTPUT"
                printf 'no newline before the delimiter' >> "$GITHUB_OUTPUT"
                echo "EOF" >> "$GITHUB_OUTPUT"
        """)
    assert result.failed
    assert result.steps["s"].outcome == "failure"
    assert "Matching delimiter not found 'EOF'" in result.report()


# --------------------------------------------------------------------------------------
# GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY
# --------------------------------------------------------------------------------------


def test_github_env_applies_to_later_steps_only(repo: Path) -> None:
    result = run(repo, """
        name: X
        outputs:
          later: {value: "${{ steps.later.outputs.v }}"}
          ctx: {value: "${{ env.COLOR }}/${{ env.MULTI }}"}
        runs:
          using: composite
          steps:
            - id: set
              shell: bash
              run: |
                echo "COLOR=yellow" >> "$GITHUB_ENV"
                printf 'MULTI<<X\\na\\nb\\nX\\n' >> "$GITHUB_ENV"
                echo "same=${COLOR:-unset}" >> "$GITHUB_OUTPUT"
            - id: later
              shell: bash
              run: |
                echo "v=$COLOR|${MULTI//$'\\n'/+}|${{ env.COLOR }}" >> "$GITHUB_OUTPUT"
            - id: override
              shell: bash
              env: {COLOR: blue}
              run: echo "v=$COLOR" >> "$GITHUB_OUTPUT"
        """)
    assert not result.failed, result.report()
    assert result.steps["set"].outputs["same"] == "unset"
    assert result.outputs["later"] == "yellow|a+b|yellow"
    assert result.outputs["ctx"] == "yellow/a\nb"
    assert result.steps["override"].outputs["v"] == "blue"  # step env wins over GITHUB_ENV
    assert result.github_env == {"COLOR": "yellow", "MULTI": "a\nb"}
    assert result.env["COLOR"] == "yellow"


def test_env_context_holds_workflow_env_not_the_runner_environment(repo: Path) -> None:
    result = run(repo, """
        name: X
        outputs:
          ctx: {value: "[${{ env.JOB_LEVEL }}][${{ env.FROM_RUNNER }}][${{ env.job_level }}]"}
        runs:
          using: composite
          steps:
            - id: s
              shell: bash
              run: echo "v=$JOB_LEVEL $FROM_RUNNER" >> "$GITHUB_OUTPUT"
        """, env={"JOB_LEVEL": "j"}, base_env={**os.environ, "FROM_RUNNER": "r"})
    assert result.steps["s"].outputs["v"] == "j r"
    assert result.outputs["ctx"] == "[j][][]"  # env context is case-sensitive on Linux runners


def test_github_path_is_prepended_for_later_steps(repo: Path) -> None:
    for name in ("one", "two"):
        tool = repo / "bin" / name / "tool"
        tool.parent.mkdir(parents=True)
        tool.write_text(f"#!/bin/sh\necho {name}\n")
        tool.chmod(0o755)
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - id: add
              shell: bash
              run: |
                echo "$GITHUB_WORKSPACE/bin/one" >> "$GITHUB_PATH"
                command -v tool || echo "check=not yet" >> "$GITHUB_OUTPUT"
            - id: first
              shell: bash
              run: |
                echo "v=$(tool)" >> "$GITHUB_OUTPUT"
                echo "$GITHUB_WORKSPACE/bin/two" >> "$GITHUB_PATH"
            - id: second
              shell: bash
              run: echo "v=$(tool)" >> "$GITHUB_OUTPUT"
        """)
    assert not result.failed, result.report()
    assert result.steps["add"].outputs["check"] == "not yet"  # not in the step that added it
    assert (result.steps["first"].outputs["v"], result.steps["second"].outputs["v"]) == ("one", "two")
    assert result.github_path == [str(repo / "bin/two"), str(repo / "bin/one")]
    assert result.env["PATH"].startswith(f"{repo}/bin/two{os.pathsep}{repo}/bin/one{os.pathsep}")


def test_step_summaries_accumulate(repo: Path) -> None:
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {shell: bash, run: 'echo "## First" >> "$GITHUB_STEP_SUMMARY"'}
            - {shell: bash, run: 'echo "dropped" >> "$GITHUB_STEP_SUMMARY"; echo "second" > "$GITHUB_STEP_SUMMARY"'}
            - {shell: bash, run: 'echo "gone" >> "$GITHUB_STEP_SUMMARY"; rm "$GITHUB_STEP_SUMMARY"'}
        """)
    assert result.summary == "## First\nsecond\n"
    assert [s.summary for s in result.step_results] == ["## First\n", "second\n", ""]


def test_each_step_gets_fresh_files(repo: Path) -> None:
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {id: a, shell: bash, run: 'echo "f=$GITHUB_OUTPUT" >> "$GITHUB_OUTPUT"'}
            - {id: b, shell: bash, run: 'echo "f=$GITHUB_OUTPUT" >> "$GITHUB_OUTPUT"; echo "n=$(wc -l < $GITHUB_OUTPUT)" >> "$GITHUB_OUTPUT"'}
        """)
    assert result.steps["a"].outputs["f"] != result.steps["b"].outputs["f"]
    assert result.steps["b"].outputs["n"] == "1"


# --------------------------------------------------------------------------------------
# Failure, if:, continue-on-error
# --------------------------------------------------------------------------------------

FAILING_ACTION = """
    name: X
    outputs:
      outcome: {value: "${{ steps.boom.outcome }}/${{ steps.boom.conclusion }}/${{ steps.after.outcome }}"}
    runs:
      using: composite
      steps:
        - {id: before, shell: bash, run: echo ok}
        - id: boom
          shell: bash
          run: |
            echo "partial=yes" >> "$GITHUB_OUTPUT"
            echo "about to fail" >&2
            exit 3
        - {id: after, shell: bash, run: echo never}
        - {id: on-failure, if: failure(), shell: bash, run: echo cleaning up}
        - {id: on-failure-and, if: "${{ failure() && steps.boom.conclusion == 'failure' }}", shell: bash, run: echo x}
        - {id: always, if: always(), shell: bash, run: echo always}
        - {id: not-cancelled, if: "!cancelled()", shell: bash, run: echo not cancelled}
        - {id: success-only, if: success(), shell: bash, run: echo no}
        - {id: plain-true, if: "true", shell: bash, run: echo no}
    """


def test_a_failing_step_skips_later_steps_unless_their_if_says_otherwise(repo: Path) -> None:
    result = run(repo, FAILING_ACTION)
    assert result.failed
    outcomes = {s.id: s.outcome for s in result.step_results}
    assert outcomes == {
        "before": "success", "boom": "failure", "after": "skipped", "on-failure": "success",
        "on-failure-and": "success", "always": "success", "not-cancelled": "success",
        "success-only": "skipped", "plain-true": "skipped",  # implicit success() && (true)
    }
    boom = result.steps["boom"]
    assert (boom.exit_code, boom.stderr, boom.outputs) == (3, "about to fail\n", {"partial": "yes"})
    assert result.outputs["outcome"] == "failure/failure/skipped"
    assert "exit code 3" in result.report() and "about to fail" in result.report()


def test_continue_on_error_keeps_the_action_green(repo: Path) -> None:
    result = run(repo, """
        name: X
        inputs:
          tolerate: {default: 'true'}
        runs:
          using: composite
          steps:
            - {id: boom, shell: bash, run: exit 1, continue-on-error: "${{ inputs.tolerate == 'true' }}"}
            - {id: next, shell: bash, run: 'echo "v=${{ steps.boom.outcome }}-${{ steps.boom.conclusion }}" >> $GITHUB_OUTPUT'}
            - {id: on-failure, if: failure(), shell: bash, run: echo no}
        """)
    assert not result.failed, result.report()
    assert result.steps["next"].outputs["v"] == "failure-success"
    assert result.steps["on-failure"].outcome == "skipped"


def test_if_with_contexts_and_loose_comparisons(repo: Path) -> None:
    result = run(repo, """
        name: X
        inputs:
          count: {default: '3'}
        runs:
          using: composite
          steps:
            - {id: a, if: "github.event_name == 'PULL_REQUEST' && inputs.count > 2", shell: bash, run: 'true'}
            - {id: b, if: "${{ github.event.pull_request.draft }}", shell: bash, run: 'true'}
            - {id: c, if: "contains(github.event.pull_request.labels.*.name, 'Retrain')", shell: bash, run: 'true'}
            - {id: d, if: "env.MISSING", shell: bash, run: 'true'}
            - {id: e, if: "${{ env.FLAG == 'on' }}", env: {FLAG: "on"}, shell: bash, run: 'true'}
        """, github={"event_name": "pull_request",
                     "event": {"pull_request": {"draft": False, "labels": [{"name": "retrain"}, {"name": "x"}]}}})
    outcomes = {s.id: s.outcome for s in result.step_results}
    assert outcomes == {"a": "success", "b": "skipped", "c": "success", "d": "skipped", "e": "success"}


def test_an_expression_error_at_run_time_fails_the_step(repo: Path) -> None:
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {id: bad, shell: bash, run: "echo ${{ fromJSON('not json') }}"}
            - {id: cleanup, if: always(), shell: bash, run: 'echo "v=${{ steps.bad.outcome }}" >> $GITHUB_OUTPUT'}
        """)
    assert result.failed
    assert "fromJSON" in result.steps["bad"].errors[0]
    assert result.steps["cleanup"].outputs["v"] == "failure"


def test_mixing_expression_and_text_in_if_is_rejected(repo: Path) -> None:
    with pytest.raises(UnsupportedSyntax, match="mixes"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{if: "${{ true }} && false", shell: bash, run: 'true'}]
            """)


# --------------------------------------------------------------------------------------
# Shells
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        ("false | true", "failure"),  # -o pipefail: a failing command in a pipe fails the step
        ('echo "[$UNSET_VARIABLE]"', "success"),  # no -u: unset variables are empty
        ("false\necho not reached", "failure"),  # -e: the first failing command ends the script
        ("if false; then echo; fi\nfalse || true", "success"),
    ],
)
def test_bash_runs_with_eo_pipefail_like_github(repo: Path, script: str, outcome: str) -> None:
    result = run(repo, f"""
        name: X
        runs:
          using: composite
          steps:
            - id: s
              shell: bash
              run: {json.dumps(script)}
        """)
    assert result.steps["s"].outcome == outcome, result.report()
    assert "not reached" not in result.steps["s"].stdout


def test_bash_gets_no_profile_and_sees_its_flags(repo: Path) -> None:
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {id: s, shell: bash, run: 'echo "$-|$SHELLOPTS"'}
        """, base_env={**os.environ, "BASH_ENV": str(repo / "nope.sh")})
    flags, options = result.steps["s"].stdout.strip().split("|")
    assert "e" in flags and "u" not in flags
    assert "pipefail" in options.split(":") and "errexit" in options.split(":")


def test_python_shell_runs_python_on_the_path(repo: Path) -> None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - id: py
              shell: python
              run: |
                import os
                with open(os.environ["GITHUB_OUTPUT"], "a") as f:
                    print("answer=${{ 6 }}", file=f)
        """, base_env={**os.environ, "PATH": path})
    assert result.steps["py"].outputs == {"answer": "6"}, result.report()


def test_working_directory_is_relative_to_the_workspace(repo: Path) -> None:
    (repo / "sub" / "dir").mkdir(parents=True)
    result = run(repo, """
        name: X
        inputs:
          where: {default: sub}
        runs:
          using: composite
          steps:
            - {id: default, shell: bash, run: 'echo "v=$PWD" >> $GITHUB_OUTPUT'}
            - {id: relative, shell: bash, working-directory: "${{ inputs.where }}/dir", run: 'echo "v=$PWD" >> $GITHUB_OUTPUT'}
            - {id: missing, shell: bash, working-directory: nowhere, run: 'true'}
        """)
    assert result.steps["default"].outputs["v"] == str(repo)
    assert result.steps["relative"].outputs["v"] == str(repo / "sub" / "dir")
    assert result.steps["missing"].outcome == "failure"
    assert "nowhere" in result.steps["missing"].errors[0]


def test_action_path_in_context_and_environment(repo: Path) -> None:
    folder = write_action(repo, """
        name: X
        runs:
          using: composite
          steps:
            - id: s
              shell: bash
              run: |
                echo "ctx=${{ github.action_path }}" >> "$GITHUB_OUTPUT"
                echo "env=$GITHUB_ACTION_PATH" >> "$GITHUB_OUTPUT"
                echo "script=$(bash "$GITHUB_ACTION_PATH/helper.sh")" >> "$GITHUB_OUTPUT"
        """)
    (folder / "helper.sh").write_text("echo helped\n")
    result = run_action(folder, workspace=repo)
    assert result.steps["s"].outputs == {"ctx": str(folder), "env": str(folder), "script": "helped"}


def test_the_script_is_substituted_before_it_runs(repo: Path) -> None:
    result = run(repo, """
        name: X
        inputs:
          name: {default: "it's"}
        runs:
          using: composite
          steps:
            - {id: s, shell: bash, run: "echo '${{ inputs.name }}'"}
        """)
    # Plain text substitution, as on GitHub: the quote in the value breaks the shell quoting.
    assert result.steps["s"].script == "echo 'it's'"
    assert result.steps["s"].outcome == "failure"


def test_deprecated_stdout_commands_fail_loudly_and_annotations_are_kept(repo: Path) -> None:
    with pytest.raises(UnsupportedSyntax, match="set-output"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{shell: bash, run: 'echo "::set-output name=a::b"'}]
            """)
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps: [{id: s, shell: bash, run: 'echo "::warning file=a.py,line=1::Careful"; echo "::group::g"'}]
        """)
    assert result.steps["s"].annotations == ["warning: Careful"]


# --------------------------------------------------------------------------------------
# Nested local actions and third-party stand-ins
# --------------------------------------------------------------------------------------


def test_nested_local_action_with_inputs_outputs_and_env(repo: Path) -> None:
    inner = write_action(repo, """
        name: Inner
        inputs:
          greeting: {required: true}
        outputs:
          message: {value: "${{ steps.say.outputs.message }}"}
        runs:
          using: composite
          steps:
            - id: say
              shell: bash
              run: |
                echo "message=${{ inputs.greeting }} from $(basename ${{ github.action_path }}) $OUTER_STEP_ENV" >> "$GITHUB_OUTPUT"
                echo "INNER_EXPORT=1" >> "$GITHUB_ENV"
            - {id: steps-are-scoped, shell: bash, run: 'echo "v=[${{ steps.outer-only.outcome }}]" >> $GITHUB_OUTPUT'}
        """, folder="actions/inner")
    result = run(repo, """
        name: Outer
        outputs:
          relayed: {value: "${{ steps.call.outputs.message }}"}
        runs:
          using: composite
          steps:
            - {id: outer-only, shell: bash, run: 'true'}
            - id: call
              uses: ./actions/inner
              with:
                greeting: "hello ${{ github.actor }}"
              env: {OUTER_STEP_ENV: e}
            - {id: after, shell: bash, run: 'echo "v=$INNER_EXPORT|$(basename ${{ github.action_path }})" >> $GITHUB_OUTPUT'}
        """, github={"actor": "mona"})
    assert not result.failed, result.report()
    assert result.outputs["relayed"] == "hello mona from inner e"
    call = result.steps["call"]
    assert call.uses == "./actions/inner" and call.with_ == {"greeting": "hello mona"}
    assert call.nested.action.file == inner / "action.yml"
    assert call.nested.steps["steps-are-scoped"].outputs["v"] == "[]"
    assert result.steps["after"].outputs["v"] == "1|x"


def test_a_failing_nested_action_fails_its_step(repo: Path) -> None:
    write_action(repo, """
        name: Inner
        outputs:
          before: {value: "${{ steps.a.outputs.v }}"}
        runs:
          using: composite
          steps:
            - {id: a, shell: bash, run: 'echo "v=set" >> $GITHUB_OUTPUT'}
            - {shell: bash, run: exit 7}
        """, folder="actions/inner")
    result = run(repo, """
        name: Outer
        runs:
          using: composite
          steps:
            - {id: call, uses: ./actions/inner}
            - {id: report, if: failure(), shell: bash, run: 'echo "v=${{ steps.call.outputs.before }}" >> $GITHUB_OUTPUT'}
        """)
    assert result.failed
    assert result.steps["call"].outcome == "failure"
    assert result.steps["report"].outputs["v"] == "set"  # outputs are evaluated even when it failed
    assert "exit code 7" in result.report()


def test_stand_ins_receive_with_and_env_and_return_outputs(repo: Path) -> None:
    calls = []

    def setup_python(with_: dict, env: dict) -> dict:
        calls.append((with_, env["GITHUB_WORKSPACE"], env["STEP_LEVEL"]))
        Path(env["GITHUB_PATH"]).write_text("/opt/fake-python/bin\n")
        with open(env["GITHUB_ENV"], "a") as f:
            f.write("pythonLocation=/opt/fake-python\n")
        return {"python-version": with_["python-version"] + ".7"}

    result = run(repo, """
        name: X
        outputs:
          version: {value: "${{ steps.py.outputs.python-version }}"}
        runs:
          using: composite
          steps:
            - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
            - id: py
              uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c
              with: {python-version: 3.11}
              env: {STEP_LEVEL: s}
            - {id: after, shell: bash, run: 'echo "v=$pythonLocation|${PATH%%:*}" >> $GITHUB_OUTPUT'}
        """, stand_ins={"actions/setup-python": setup_python})
    assert not result.failed, result.report()
    assert calls == [({"python-version": "3.11"}, str(repo), "s")]
    assert result.outputs["version"] == "3.11.7"
    assert result.steps["py"].uses == "actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c"
    assert result.steps["after"].outputs["v"] == "/opt/fake-python|/opt/fake-python/bin"


def test_default_stand_ins_are_no_ops(repo: Path) -> None:
    assert set(DEFAULT_STAND_INS) >= {"actions/checkout", "actions/setup-python", "actions/cache"}
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {uses: actions/checkout@v4}
            - {id: cache, uses: actions/cache@v4, with: {path: x, key: k}}
        """)
    assert not result.failed
    assert result.steps["cache"].outputs == {"cache-hit": "false"}


def test_a_third_party_action_without_a_stand_in_is_an_error(repo: Path) -> None:
    with pytest.raises(HarnessError, match="no stand-in for third-party action `actions/upload-artifact@v4`"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{uses: actions/upload-artifact@v4, with: {name: a, path: b}}]
            """)
    with pytest.raises(HarnessError, match="no stand-in.*actions/checkout"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{uses: actions/checkout@v4}]
            """, use_default_stand_ins=False)


def test_a_stand_in_can_fail_its_step(repo: Path) -> None:
    def broken(with_: dict, env: dict) -> None:
        raise StandInFailure("no artifact named model")

    result = run(repo, """
        name: X
        runs:
          using: composite
          steps:
            - {id: dl, uses: actions/download-artifact@v4, with: {name: model}, continue-on-error: true}
        """, stand_ins={"actions/download-artifact": broken})
    assert not result.failed
    assert (result.steps["dl"].outcome, result.steps["dl"].conclusion) == ("failure", "success")
    assert "no artifact named model" in result.steps["dl"].errors[0]


def test_default_environment_mirrors_the_github_context(repo: Path, tmp_path: Path) -> None:
    github = {"repository": "o/r", "event_name": "push", "sha": "abc", "event": {"after": "abc"}}
    env = default_environment(github, repo, tmp_path / "event")
    assert env["GITHUB_REPOSITORY"] == "o/r" and env["GITHUB_EVENT_NAME"] == "push"
    assert env["CI"] == env["GITHUB_ACTIONS"] == "true"
    assert Path(env["GITHUB_EVENT_PATH"]).read_text().find('"after": "abc"') > 0
    assert "GITHUB_TOKEN" not in env


# --------------------------------------------------------------------------------------
# Expressions: the documented rules
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Loose equality: different types are compared as numbers (docs: "Operators").
        ("'1' == 1", True),
        ("null == 0", True),
        ("'' == 0", True),
        ("'' == null", True),
        ("true == 1", True),
        ("false == 0", True),
        ("'true' == true", False),  # 'true' -> NaN
        ("' 0xff ' == 255", True),
        ("'1e3' == 1000", True),
        ("'abc' == 0", False),
        ("NaN == NaN", False),
        ("'NaN' != NaN", True),
        # Strings compare case-insensitively.
        ("'Pull_Request' == 'pull_request'", True),
        ("'a' < 'B'", True),
        # Relational operators: NaN is never ordered; booleans become numbers against numbers.
        ("1 < '2'", True),
        ("'10' > 9", True),
        ("'abc' < 1", False),
        ("'abc' >= 1", False),
        ("true > false", True),
        ("null >= 0", True),
        # Literals.
        ("0xff", 255),
        ("-2.99e-2", -0.0299),
        ("'It''s open source!'", "It's open source!"),
        ("null", None),
        # && and || return operands, not booleans.
        ("'a' && 'b'", "b"),
        ("'' && 'b'", ""),
        ("0 || 'fallback'", "fallback"),
        ("null || false", False),
        ("!'false'", False),  # a non-empty string is truthy
        ("!0", True),
        ("!-0", True),
        # Precedence: ! > comparison > equality > && > ||.
        ("true || false && false", True),
        ("!(1 == 2) && 2 > 1 == true", True),
        # Functions (names are case-insensitive).
        ("contains('Hello world', 'LLO')", True),
        ("contains(fromJSON('[\"push\", \"pull_request\"]'), 'Push')", True),
        ("contains(fromJSON('[1, 2]'), '2')", True),
        ("startsWith('Hello world', 'he')", True),
        ("endsWith('Hello world', 'LD')", True),
        ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
        ("format('{{Hello {0}!}}', 'Mona')", "{Hello Mona!}"),
        ("format('{0}{1}', 1.50, true)", "1.5true"),
        ("join(fromJSON('[\"a\", 1, true, null]'), ', ')", "a, 1, true, "),
        ("join('abc')", "abc"),
        ("toJson(fromJson('{\"a\": [1, \"x\"]}'))", '{\n  "a": [\n    1,\n    "x"\n  ]\n}'),
        ("fromJSON('true') && fromJSON('3') == 3", True),
        ("case(1 == 2, 'a', 2 == 2, 'b', 'c')", "b"),
        ("case(false, 'a', 'default')", "default"),
        # Status functions outside a failure.
        ("success() && !failure() && always() && !cancelled()", True),
    ],
)
def test_expression_rules(expression: str, expected: object) -> None:
    assert evaluate_expression(expression) == expected


def test_expressions_over_contexts() -> None:
    contexts = {
        "github": {"event": {"pull_request": {"labels": [{"name": "bug"}, {"name": "ok"}], "number": 7}},
                   "EVENT_NAME": "push"},
        "steps": {"train": {"outputs": {"auc": "0.91", "ok": "true"}}},
        "env": {"Mode": "x"},
    }
    assert evaluate_expression("github.event_name", contexts) == "push"  # case-insensitive keys
    assert evaluate_expression("github['event'].pull_request['NUMBER']", contexts) == 7
    assert evaluate_expression("github.event.pull_request.labels.*.name", contexts) == ["bug", "ok"]
    assert evaluate_expression("github.event.pull_request.labels[1].name", contexts) == "ok"
    assert evaluate_expression("github.event.pull_request.labels['1'].name", contexts) == "ok"
    assert evaluate_expression("join(github.event.pull_request.labels.*.name)", contexts) == "bug,ok"
    assert evaluate_expression("github.nothing.deeper", contexts) is None
    assert evaluate_expression("steps.train.outputs.auc > 0.9", contexts) is True
    assert evaluate_expression("steps.train.outputs.ok == true", contexts) is False  # 'true' is NaN as a number
    assert evaluate_expression("fromJSON(steps.train.outputs.ok)", contexts) is True
    assert evaluate_expression("env.Mode == 'x' && env.MODE == null", contexts) is True
    assert evaluate_expression("github.event == github.event", contexts) is True  # same instance
    assert evaluate_expression("fromJSON('{}') == fromJSON('{}')", contexts) is False
    assert evaluate_expression("failure()", action_status="failure") is True


@pytest.mark.parametrize(
    ("expression", "error", "message"),
    [
        ('"double"', HarnessError, "single quotes"),
        ("a = 1", HarnessError, "unexpected symbol '='"),
        ("foo.bar", UnsupportedSyntax, "unrecognized named value 'foo'"),
        ("github.sha = 1", HarnessError, "'='"),
        ("github.x & 1", HarnessError, "'&'"),
        ("vars.name", UnsupportedSyntax, "vars"),
        ("substring('abc', 1)", UnsupportedSyntax, "unknown or unsupported function substring"),
        ("contains('a')", HarnessError, "wrong number of arguments"),
        ("'abc'.length", HarnessError, "unexpected symbol '.length'"),
        ("(1", HarnessError, r"expected '\)'"),
        ("'open", HarnessError, "unterminated string"),
        ("1.2.3", HarnessError, "unexpected symbol"),
        ("format('{0', 1)", ExpressionError, "invalid format string"),
        ("format('{1}', 1)", ExpressionError, "more arguments"),
        ("fromJSON('{')", ExpressionError, "not JSON"),
        ("case(1, 'a', 'b')", ExpressionError, "booleans"),
        ("format('{0}', fromJSON('[1]'))", UnsupportedSyntax, "cannot be converted to a string"),
    ],
)
def test_unsupported_or_invalid_expressions_fail_loudly(expression: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        evaluate_expression(expression)


def test_an_object_interpolated_into_a_string_fails_loudly(repo: Path) -> None:
    with pytest.raises(UnsupportedSyntax, match="cannot be converted to a string.*toJSON"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{shell: bash, run: "echo ${{ github.event }}"}]
            """, github={"event": {"a": 1}})


def test_number_formatting_matches_the_runner() -> None:
    assert evaluate_expression("format('{0}|{1}|{2}|{3}', 1.0, 0.1, 1e20, -0.5)") == "1|0.1|1E+20|-0.5"
    assert evaluate_expression("format('{0}', 123456789012345678)") == "1.23456789012346E+17"
    assert math.isinf(evaluate_expression("-Infinity"))


def test_hash_files(repo: Path) -> None:
    (repo / "src" / "deep").mkdir(parents=True)
    (repo / "uv.lock").write_text("lock")
    (repo / "src" / "a.py").write_text("a")
    (repo / "src" / "deep" / "b.py").write_text("b")
    (repo / "src" / "deep" / "c.txt").write_text("c")

    def expected(*files: str) -> str:
        combined = hashlib.sha256()
        for f in sorted(files):
            combined.update(hashlib.sha256((repo / f).read_bytes()).digest())
        return combined.hexdigest()

    def hash_files(*patterns: str) -> str:
        args = ", ".join(f"'{p}'" for p in patterns)
        return evaluate_expression(f"hashFiles({args})", workspace=repo)

    assert hash_files("uv.lock") == expected("uv.lock")
    assert hash_files("**/*.py") == expected("src/a.py", "src/deep/b.py")
    assert hash_files("/src/*.py") == expected("src/a.py")
    assert hash_files("src/**", "!**/*.txt") == expected("src/a.py", "src/deep/b.py")
    assert hash_files("src") == expected("src/a.py", "src/deep/b.py", "src/deep/c.txt")
    assert hash_files(f"{repo}/uv.lock") == expected("uv.lock")
    assert hash_files("nothing/*") == ""


# --------------------------------------------------------------------------------------
# Contexts, limits and the remaining failure modes
# --------------------------------------------------------------------------------------


def test_runner_job_and_github_contexts(repo: Path, tmp_path: Path) -> None:
    (repo / "uv.lock").write_text("lock")
    seen = {}
    result = run(repo, """
        name: X
        outputs:
          all: {value: "${{ runner.os }}|${{ job.status }}|${{ github.workspace }}|${{ github.event.number }}"}
        runs:
          using: composite
          steps:
            - {id: temp, shell: bash, run: 'echo "v=${{ runner.temp }}|$RUNNER_TEMP|$GITHUB_WORKSPACE" >> $GITHUB_OUTPUT'}
            - uses: actions/cache@v4
              with: {path: .venv, key: "venv-${{ runner.os }}-${{ hashFiles('uv.lock') }}"}
        """, github={"event": {"number": 12}}, runner={"os": "Linux", "temp": str(tmp_path / "rt")},
        stand_ins={"actions/cache": lambda with_, env: seen.update(with_)})
    assert result.outputs["all"] == f"Linux|success|{repo}|12"
    assert result.steps["temp"].outputs["v"] == f"{tmp_path / 'rt'}|{tmp_path / 'rt'}|{repo}"
    assert seen["key"] == "venv-Linux-" + hashlib.sha256(hashlib.sha256(b"lock").digest()).hexdigest()


def test_an_output_that_cannot_be_evaluated_fails_the_action(repo: Path) -> None:
    result = run(repo, """
        name: X
        outputs:
          parsed: {value: "${{ fromJSON(steps.s.outputs.v).x }}"}
        runs:
          using: composite
          steps: [{id: s, shell: bash, run: 'echo "v=oops" >> $GITHUB_OUTPUT'}]
        """)
    assert result.failed
    assert "outputs.parsed.value" in result.errors[0]


def test_an_env_expression_error_fails_the_step_before_it_runs(repo: Path) -> None:
    result = run(repo, """
        name: X
        runs:
          using: composite
          steps: [{id: s, shell: bash, env: {A: "${{ format('{0}') }}"}, run: echo ran}]
        """)
    assert result.steps["s"].outcome == "failure"
    assert result.steps["s"].stdout == ""


def test_github_state_is_not_supported(repo: Path) -> None:
    with pytest.raises(UnsupportedSyntax, match="GITHUB_STATE"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{shell: bash, run: 'echo "pid=1" >> "$GITHUB_STATE"'}]
            """)


def test_a_step_that_hangs_is_killed_loudly(repo: Path) -> None:
    with pytest.raises(HarnessError, match="still running after 0.5 s"):
        run(repo, """
            name: X
            runs:
              using: composite
              steps: [{shell: bash, run: 'sleep 30 | cat'}]
            """, step_timeout=0.5)
