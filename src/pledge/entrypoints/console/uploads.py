"""Forms with files (``multipart/form-data``), checked like every other form of the console.

The server refuses a body over its limit before it is read (``server.py``); here the parts are
bounded in number and in size, only the named file field may carry files, and the text fields go
through the same checks as a url-encoded form (origin, CSRF token, clean text, known names). A
file input left empty by the browser arrives as a part with no name and no bytes: it is no file.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from pledge.domain.errors import InputError
from pledge.domain.schemas import UNKNOWN_FIELD, unknown_field_message
from pledge.entrypoints.console.web import MAX_FIELDS, FormRefused, Visitor, accept_form, check_origin

MAX_TEXT_PART_BYTES = 64 * 1024


async def read_upload(
    who: Visitor, file_field: str, *, max_files: int, max_file_bytes: int, fields: tuple[str, ...]
) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The form's text fields and its files as ``(file name, content)``; a file over
    ``max_file_bytes`` is refused (code ``<file_field>_too_large``)."""
    request = who.request
    check_origin(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise FormRefused("form")
    try:
        form = await request.form(
            max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_TEXT_PART_BYTES
        )
    except MultiPartException as exc:  # too many parts, a part too large, a malformed body
        raise InputError(f"{file_field}: {exc.message}", param=file_field, code="invalid_upload") from None
    try:
        texts = [(n, v) for n, v in form.multi_items() if not isinstance(v, UploadFile)]
        accepted = accept_form(who, texts, fields)  # origin, CSRF and names before any file is read
        files: list[tuple[str, bytes]] = []
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile):
                continue
            if name != file_field:
                message = unknown_field_message(name, name, (file_field,), "form field")
                raise InputError(message, param=name, code=UNKNOWN_FIELD)
            size = value.size or 0
            if size > max_file_bytes:  # refused here, before its bytes are read into memory
                raise InputError(
                    f"{file_field} {value.filename}: is {size:,} bytes; at most {max_file_bytes:,} are taken",
                    param=file_field,
                    code=f"{file_field}_too_large",
                )
            content = await value.read(max_file_bytes + 1)
            if value.filename or content:
                files.append((value.filename or file_field, content))
    finally:
        await form.close()
    return accepted, files
