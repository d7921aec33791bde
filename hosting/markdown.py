"""Model READMEs: Markdown rendered to HTML, then sanitised, since anyone who can push a
model writes it (scripts, event handlers and javascript: links are removed by nh3/ammonia)."""

import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]
_HEADING = re.compile(r"<(/?)h([1-6])>")


def render_markdown(text: str, *, heading_offset: int = 0) -> SafeString:
    """`heading_offset` pushes headings down (a README's `#` under the page's own h1 and h2)."""
    html = nh3.clean(
        markdown.markdown(text or "", extensions=_EXTENSIONS, output_format="html"),
        link_rel="noopener noreferrer nofollow",
    )
    if heading_offset:
        html = _HEADING.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + heading_offset)}>", html)
    return mark_safe(html)
