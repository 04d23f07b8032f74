"""MkDocs hook: examples written as interactive sessions (`>>> Activation("elu",
alpha=0.3)`), as docstrings often hold them, render as code instead of as
Markdown's nested quotes. A Markdown preprocessor fences each session (from a
line starting with `>>> ` to the next blank line) as `pycon`; it serves the
pages and the docstrings that mkdocstrings renders with the same extensions."""

import re

from markdown import Extension
from markdown.preprocessors import Preprocessor

_PROMPT = re.compile(r"^\s*>>> ")
_FENCE = re.compile(r"^\s*(```|~~~)")


class _FenceSessions(Preprocessor):
    def run(self, lines):
        out, in_fence, in_session = [], False, False
        for line in lines:
            if in_session and not line.strip():
                out += ["```", ""]
                in_session = False
            elif not in_session and _FENCE.match(line):
                in_fence = not in_fence
            elif not in_session and not in_fence and _PROMPT.match(line):
                out += ["", "```pycon"]
                in_session = True
            out.append(line.strip() if in_session else line)
        return out + ["```"] if in_session else out


class InteractiveExamples(Extension):
    def extendMarkdown(self, md):
        # Before the fenced-code preprocessors (priority 25), which then render the fences.
        md.preprocessors.register(_FenceSessions(md), "interactive_examples", 30)


def on_config(config):
    config.markdown_extensions.append(InteractiveExamples())
    return config
