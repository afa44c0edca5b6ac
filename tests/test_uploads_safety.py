"""Uploads as an attacker sends them: images rebuilt from pixels (no comment, EXIF, ICC or text
chunk survives), PDFs with JavaScript, launch actions or embedded files refused, PDFs served as
downloads, and a disk that refuses the write leaves nothing half-stored."""

from __future__ import annotations

import errno
import io
import struct
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from tests import kinship_factories as kf
from tests.test_materials import LETTER, count, error_text, holder, post, stored  # noqa: F401
from webapp.kinship import materials

SCRIPT = b"<html><script>alert(document.cookie)</script></html>"


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments before the image data (0xFE = comment)."""
    markers, i = [], 2
    while i < len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        i += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    chunks, i = [], 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        chunks.append(data[i + 4:i + 8])
        i += 12 + length
    return chunks


def hostile_jpeg() -> bytes:
    """A real photo with HTML in a comment segment, EXIF and an ICC profile."""
    image = Image.open(io.BytesIO(kf.jpeg_bytes()))
    exif = Image.Exif()
    exif[0x010F] = "<script>"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", comment=SCRIPT, exif=exif.tobytes(), icc_profile=icc)
    assert SCRIPT in out.getvalue() and 0xFE in jpeg_segments(out.getvalue())
    return out.getvalue()


def hostile_png() -> bytes:
    """A PNG with a text chunk carrying HTML, an ICC profile and EXIF."""
    image = Image.open(io.BytesIO(kf.png_bytes()))
    info = PngInfo()
    info.add_text("Comment", SCRIPT.decode())
    info.add_itxt("Description", "<script>x</script>")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "<script>"
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, icc_profile=icc, exif=exif.tobytes())
    assert {b"tEXt", b"iCCP", b"eXIf"} <= set(png_chunks(out.getvalue()))
    return out.getvalue()


def test_jpeg_comment_with_html_is_not_stored(client, holder, app):  # noqa: F811
    """The comment segment (and EXIF, ICC) is gone; the pixels are the same picture."""
    data = hostile_jpeg()
    r = post(client, data, "proof.jpg")
    assert r.headers["Location"].endswith(LETTER)
    _, kept = stored(app)
    assert b"<script" not in kept and b"<html" not in kept
    segments = jpeg_segments(kept)
    assert 0xFE not in segments  # COM
    assert 0xE1 not in segments and 0xE2 not in segments  # APP1 EXIF/XMP, APP2 ICC
    before = Image.open(io.BytesIO(data)).convert("RGB").resize((32, 24)).tobytes()
    after = Image.open(io.BytesIO(kept)).convert("RGB").resize((32, 24)).tobytes()
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) < 40


def test_png_text_icc_and_exif_chunks_are_dropped(client, holder, app):  # noqa: F811
    """Only the chunks that carry pixels remain; the pixels are unchanged."""
    data = hostile_png()
    post(client, data, "proof.png")
    _, kept = stored(app)
    assert set(png_chunks(kept)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    assert b"<script" not in kept
    assert (Image.open(io.BytesIO(kept)).convert("RGB").tobytes()
            == Image.open(io.BytesIO(data)).convert("RGB").tobytes())


def test_palette_png_with_transparency_is_rebuilt(app):
    """A palette image with a transparent colour keeps its transparency as RGBA."""
    image = Image.new("P", (10, 10), 0)
    image.info["transparency"] = 0
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)
    rebuilt = Image.open(io.BytesIO(materials.reencode_image(out.getvalue(), "png")))
    assert rebuilt.mode == "RGBA" and rebuilt.getpixel((0, 0))[3] == 0


def pdf_with(build) -> bytes:
    """A one-page PDF, changed by build(pdf), written out."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    build(pdf)
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def _open_action_js(pdf):
    pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))


def _names_js(pdf):
    action = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                  JS=pikepdf.String("app.alert(1)")))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(
        Names=pikepdf.Array([pikepdf.String("x"), action])))


def _page_aa_js(pdf):
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pdf.make_stream(b"app.alert(1)")))


def _launch(pdf):
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.Launch,
                                             F=pikepdf.String("calc.exe"))


def _embedded(pdf):
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ payload")


def _file_annotation(pdf):
    spec = pikepdf.AttachedFileSpec(pdf, b"payload", filename="a.txt")
    annot = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment,
                               Rect=[10, 10, 30, 30], FS=spec.obj)
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(annot)]))


@pytest.mark.parametrize("build, what", [
    (_open_action_js, "脚本（JavaScript）"),
    (_names_js, "脚本（JavaScript）"),
    (_page_aa_js, "脚本（JavaScript）"),
    (_launch, "打开外部程序的操作"),
    (_embedded, "嵌入的附件"),
    (_file_annotation, "嵌入的附件"),
], ids=["open-action-js", "names-js", "page-aa-js", "launch", "embedded-file", "file-annot"])
def test_dangerous_pdfs_are_refused(client, holder, app, build, what):  # noqa: F811
    """Each dangerous PDF gets a Chinese field message naming what it carries; nothing stored."""
    r = post(client, pdf_with(build), "proof.pdf")
    assert r.status_code == 200
    message = error_text(r)
    assert "PDF文件含有" in message and what in message
    assert count() == 0
    assert not any(Path(app.config["UPLOAD_FOLDER"]).glob("*"))


def test_hex_escaped_javascript_name_is_refused(app):
    """/J#61vaScript is /JavaScript to a reader: the decoded names are checked, not the bytes."""
    data = kf.pdf_bytes().replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/J#61vaScript"
                                  b"/J#53(app.alert(1))>>")
    assert b"/JavaScript" not in data and b"/JS" not in data
    with pytest.raises(materials.DomainError, match="脚本"):
        materials.check_pdf(data)


def test_stream_bytes_that_look_like_names_are_not_refused(app):
    """A scanned page's image data may hold the bytes "/JS " by chance: only names count."""
    def image_with_js_bytes(pdf):
        image = pdf.make_stream(b"\x00/JS \xff/Launch\x01" * 50, Type=pikepdf.Name.XObject,
                                Subtype=pikepdf.Name.Image, Width=10, Height=10,
                                ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8)
        pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    image_with_js_bytes(pdf)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    data = out.getvalue()
    assert b"/JS " in data
    materials.check_pdf(data)


def test_clean_and_broken_pdfs(app):
    """A plain PDF passes; one that is not a PDF inside is refused as broken."""
    materials.check_pdf(pdf_with(lambda pdf: None))
    materials.check_pdf(kf.pdf_bytes())
    with pytest.raises(materials.DomainError, match="损坏"):
        materials.check_pdf(b"%PDF-1.4\n" + b"\x00garbage" * 20 + b"\n%%EOF\n")


def test_pdf_is_served_as_an_attachment_with_nosniff(client, holder, app):  # noqa: F811
    """A stored PDF downloads (Content-Disposition: attachment), never renders inline."""
    post(client, pdf_with(lambda pdf: None), "proof.pdf")
    material, data = stored(app)
    r = client.get(f"/family/materials/{material.public_id}")
    assert r.status_code == 200 and r.data == data
    assert r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in r.headers["Cache-Control"]


def refusing_disk(monkeypatch, *, partial: bool):
    """The disk takes (part of) the bytes, then refuses with ENOSPC."""
    real_open = open

    class FullDisk(io.FileIO):
        def write(self, data):
            if partial:
                super().write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            return FullDisk(path, "w")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(materials, "open", fake_open, raising=False)


@pytest.mark.parametrize("partial", [False, True], ids=["nothing-written", "half-written"])
def test_a_full_disk_is_a_chinese_error_and_nothing_half_stored(
        client, holder, app, monkeypatch, partial, caplog):  # noqa: F811
    """ENOSPC: the form says so in Chinese; no row, no file, no .part left behind."""
    refusing_disk(monkeypatch, partial=partial)
    r = post(client, kf.png_bytes())
    assert r.status_code == 200
    assert materials.MSG_STORAGE in error_text(r)
    assert count() == 0
    folder = Path(app.config["UPLOAD_FOLDER"])
    assert not folder.exists() or list(folder.iterdir()) == []
    assert "ENOSPC" in caplog.text
    monkeypatch.undo()
    assert post(client, kf.png_bytes()).headers["Location"].endswith(LETTER)
    assert count() == 1
