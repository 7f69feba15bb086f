"""A claim's evidence file as an HTTP response, for the API and the console alike.

The browser must never treat a stored file as anything but its type: the type comes from what the
file is (checked when it was received), a PDF is downloaded rather than shown, and the response runs
in a sandbox, is never cached, and is not sniffed.
"""

from __future__ import annotations

from fastapi.responses import Response

MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "pdf": "application/pdf"}


def evidence_response(kind: str, content: bytes, name: str) -> Response:
    disposition = "attachment" if kind == "pdf" else "inline"
    extension = "jpg" if kind == "jpeg" else kind
    return Response(
        content,
        media_type=MEDIA_TYPES.get(kind, "application/octet-stream"),
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}.{extension}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
