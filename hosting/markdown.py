"""Model READMEs: Markdown rendered to HTML, then sanitised, since anyone who can push a
model writes it (scripts, event handlers and javascript: links are removed by nh3/ammonia)."""

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(text or "", extensions=_EXTENSIONS, output_format="html")
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S308 - sanitised
