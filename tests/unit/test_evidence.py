"""Evidence handling (ADR 28): type by content, size and pixel limits, metadata stripped, hashes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pledge.adapters.evidence.local import LocalEvidenceStore
from pledge.adapters.evidence.processing import ImageEvidenceProcessor, sniff
from pledge.domain.claims import MAX_EVIDENCE_BYTES, hamming
from pledge.domain.errors import InputError
from tests.support.images import ELF, PDF, png_bomb, receipt, recompressed

PROCESSOR = ImageEvidenceProcessor()


def test_an_image_is_reencoded_without_exif_or_gps() -> None:
    original = receipt()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825)  # the test file does carry GPS
    prepared = PROCESSOR.prepare("receipt.jpg", original)
    assert prepared.ref.kind == "jpeg" and prepared.content != original
    with Image.open(io.BytesIO(prepared.content)) as after:
        assert not after.getexif() and not after.getexif().get_ifd(0x8825)
        assert after.size == (240, 160)
    assert b"Exif" not in prepared.content and b"PhoneMaker" not in prepared.content
    assert len(prepared.ref.sha256) == 64 and len(prepared.ref.phash) == 16


def test_the_type_is_judged_by_content_not_by_name() -> None:
    with pytest.raises(InputError, match="not a JPEG, PNG, WebP or PDF") as caught:
        PROCESSOR.prepare("receipt.jpg", ELF)
    assert caught.value.code == "evidence_unsupported"
    png = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(png, "PNG")
    assert PROCESSOR.prepare("photo.pdf", png.getvalue()).ref.kind == "png"  # a PNG named .pdf is a PNG
    assert sniff(PDF) == "pdf" and sniff(b"GIF89a") is None


def test_a_jpeg_header_on_garbage_is_unreadable() -> None:
    with pytest.raises(InputError, match="not a readable JPEG") as caught:
        PROCESSOR.prepare("x.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert caught.value.code == "evidence_unreadable"


@pytest.mark.parametrize(("width", "height"), [(8_000, 6_000), (30_000, 30_000)])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(width: int, height: int) -> None:
    bomb = png_bomb(width, height)
    assert len(bomb) < 2_000
    with pytest.raises(InputError, match="pixels") as caught:
        PROCESSOR.prepare("bomb.png", bomb)
    assert caught.value.code == "evidence_too_large"


def test_a_file_over_five_megabytes_is_refused() -> None:
    with pytest.raises(InputError, match="at most 5242880") as caught:
        PROCESSOR.prepare("big.jpg", b"\xff\xd8\xff" + b"\x00" * MAX_EVIDENCE_BYTES)
    assert caught.value.code == "evidence_too_large"


def test_pdfs_are_kept_as_sent_unless_active() -> None:
    assert PROCESSOR.prepare("r.pdf", PDF).content == PDF
    with pytest.raises(InputError, match="scripts"):
        PROCESSOR.prepare("r.pdf", PDF.replace(b"<<>>endobj", b"<</OpenAction<</S/JavaScript>>>>endobj"))
    with pytest.raises(InputError, match="EOF"):
        PROCESSOR.prepare("r.pdf", b"%PDF-1.4\n")


def test_near_duplicates_share_a_perceptual_hash_and_others_do_not() -> None:
    a = PROCESSOR.prepare("a.jpg", receipt()).ref
    b = PROCESSOR.prepare("b.jpg", recompressed(receipt())).ref
    other = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(other, "JPEG")
    c = PROCESSOR.prepare("c.jpg", other.getvalue()).ref
    assert a.sha256 != b.sha256
    assert hamming(a.phash, b.phash) <= 6
    assert hamming(a.phash, c.phash) > 6


def test_the_local_store_is_content_addressed_and_private(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "evidence")
    prepared = PROCESSOR.prepare("a.jpg", receipt())
    store.put(prepared)
    store.put(prepared)  # again: nothing changes
    path = tmp_path / "evidence" / prepared.ref.sha256[:2] / prepared.ref.sha256
    assert path.read_bytes() == prepared.content and store.open(prepared.ref.sha256) == prepared.content
    assert path.stat().st_mode & 0o077 == 0
    assert store.open("0" * 64) is None
    with pytest.raises(InputError):
        store.open("../../etc/passwd")
