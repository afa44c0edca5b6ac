"""QR codes as inline SVG: one path of horizontal runs, no style attributes (CSP-safe).

Used for the 医保码 (a short alphanumeric code, shown every minute: ``fast=True`` skips the
mask search and fixes version 1) and for invitation links (whatever length they have).
"""

from __future__ import annotations

import qrcode
from markupsafe import Markup
from qrcode.constants import ERROR_CORRECT_M

FAST_MASK = 2  # any of the 8 masks gives a valid symbol; searching for the best costs ~8×
FAST_VERSION = 1  # 21×21 modules: up to 20 alphanumeric characters at level M


def qr_matrix(text: str, fast: bool = False) -> list[list[bool]]:
    """The modules of the text's QR (level M)."""
    qr = qrcode.QRCode(
        version=FAST_VERSION if fast else None,
        error_correction=ERROR_CORRECT_M,
        border=0,
        mask_pattern=FAST_MASK if fast else None,
    )
    qr.add_data(text, optimize=0)
    qr.make(fit=not fast)
    return qr.modules


def qr_svg(text: str, label: str, border: int = 4, fast: bool = False) -> Markup:
    """The QR of the text as an inline SVG element with an accessible label."""
    modules = qr_matrix(text, fast=fast)
    size = len(modules) + 2 * border
    parts = []
    for y, row in enumerate(modules):
        x = 0
        width = len(row)
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                parts.append(f"M{start + border} {y + border}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'class="app-qr__svg" role="img" aria-label="{Markup.escape(label)}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    )


def link_svg(link: str) -> Markup:
    """The QR of an invitation link (亲情账户 and 家庭共济 invitations)."""
    return qr_svg(link, "邀请链接二维码", border=2)
