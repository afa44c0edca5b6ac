"""The face-check step of the browser journeys: the fake front camera streams (Chromium's
moving test pattern, so frames differ), 开始识别, the asked actions are shown one after another
while frames are captured, and the page moves on once the server has passed them."""

from __future__ import annotations

import re

from playwright.sync_api import expect

# The sequence takes a few seconds (two actions, three frames each) before the post.
SEQUENCE_TIMEOUT_MS = 25_000


def wait_for_camera(page) -> None:
    """On the face page, until the fake camera really streams into the round preview."""
    expect(page).to_have_url(re.compile(r"/face/[\w-]+$"))
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-face-video]');"
        " return v && v.videoWidth > 0 && v.readyState >= 2; }"
    )
    expect(page.get_by_role("button", name="开始识别")).to_be_enabled()


def pass_face_check(page, shoot=None, label: str = "face") -> None:
    """Do the whole liveness sequence and wait until the page has left the face check."""
    wait_for_camera(page)
    if shoot:
        shoot(page, label)
    page.get_by_role("button", name="开始识别").click()
    page.wait_for_url(lambda url: "/face/" not in url, timeout=SEQUENCE_TIMEOUT_MS)
