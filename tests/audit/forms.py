"""An admin page's form as a browser would submit it: every field with its current value."""

from html.parser import HTMLParser


class _Form(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or ("name" not in attrs and tag != "option"):
            return
        name = attrs.get("name")
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._add(name, attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select = name
            self.fields.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self._add(self._select, attrs.get("value", ""))
        elif tag == "textarea":
            self._textarea = name
            self._add(name, "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            value = self.fields[self._textarea][-1]  # a browser drops the first newline
            self.fields[self._textarea][-1] = value.removeprefix("\r\n").removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea][-1] += data


def form_fields(html: str, form_id: str) -> dict[str, list[str]]:
    """``{name: [values]}`` of the form with this id (post it as a dict of lists)."""
    parser = _Form(form_id)
    parser.feed(html)
    assert parser.fields, f"no form #{form_id} on the page"
    return parser.fields
