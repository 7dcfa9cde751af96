"""GitHub: the REST client, publishing the sticky comment and the verdict, and the
Actions run context (event, outputs, step summary, annotations)."""
