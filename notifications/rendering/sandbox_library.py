"""The only tags and filters a Clarion template may use.

Templates are edited by admin staff and filled with data from API callers, so the engine
gets Django's ordinary control-flow tags and filters but nothing that reaches outside the
context: no `debug` (dumps the context and loaded modules), no `load`, `include` or
`extends` (reach other templates and libraries), no `url` or `csrf_token`.
"""

from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "lorem",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)

register = Library()
for tag_name in ALLOWED_TAGS:
    register.tags[tag_name] = defaulttags.register.tags[tag_name]
register.filters.update(defaultfilters.register.filters)
