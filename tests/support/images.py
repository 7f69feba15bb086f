"""Evidence files for claim tests: receipt photos with GPS tags, bombs, liars."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, ImageDraw


def receipt(text: str = "MI-1 1999.00", *, size: tuple[int, int] = (240, 160), gps: bool = True) -> bytes:
    """A JPEG 'receipt' carrying a camera make and a GPS position in its EXIF."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate((text, "2011-10-05", "Xiaomi store")):
        draw.text((10, 10 + 30 * i), line, fill="black")
    draw.rectangle((150, 100, 230, 150), fill=(200, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    if gps:
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        ifd[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
        ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        ifd[ExifTags.GPS.GPSLongitude] = (116.0, 23.0, 50.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def recompressed(jpeg: bytes, quality: int = 60) -> bytes:
    """The same picture saved again at another quality: other bytes, nearly the same image."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as image:
        image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200  # an executable, whatever its name says
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
