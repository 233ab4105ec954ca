"""The pages every visitor gets: the app's icon, at the path browsers ask for and on each page."""


def test_the_icon_is_served_where_browsers_ask_for_it(client):
    asked = client.get("/favicon.ico")
    assert (asked.status_code, asked.location) == (301, "/static/favicon.svg")
    icon = client.get(asked.location)
    assert icon.mimetype == "image/svg+xml"
    assert icon.data.startswith(b"<svg")
    assert b'rel="icon" href="/static/favicon.svg"' in client.get("/login").data
