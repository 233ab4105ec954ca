"""The suite itself: what one folder's conftest does to its tests stays in that folder."""


def test_only_the_browser_tests_are_marked_e2e(request):
    """``tests/e2e/conftest.py`` marks its tests ``e2e`` and skips them where Chromium is missing;
    its collection hook sees every test of the session, and once marked them all: on a machine
    without Chromium the whole suite was skipped, and passed."""
    assert request.node.get_closest_marker("e2e") is None
