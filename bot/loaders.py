"""Read files (.txt, .md, .docx, .pdf), recognise what they are, and cut them into chunks with metadata."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

from .model import Audience, Chunk, DocType, ParsedDocument, content_hash
from .report_parser import OfficialDocument, ReportSection, parse_official_document
from .statutes import parse_statute_markdown

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
MAX_CHUNK_CHARS = 500
_ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
_ZIP_MAX_RATIO = 200


class DocumentError(ValueError):
    """A file that cannot be read as a document; `reason` is a key into the user messages."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def sniff_kind(data: bytes) -> str:
    """What the bytes really are, whatever the file name says: docx, pdf, text or unknown."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in data[:4096] or b"[Content_Types].xml" in data[:4096] else "zip"
    if b"\x00" in data[:4096]:
        return "unknown"
    try:
        decode_text(data)
    except DocumentError:
        return "unknown"
    return "text"


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:5000] if ord(ch) < 32 and ch not in "\n\r\t\f")
        if controls <= max(2, len(text[:5000]) // 100):
            return text
    raise DocumentError("not_text")


def extract_text(data: bytes, suffix: str) -> str:
    """Plain text of a file's bytes; the declared suffix must agree with the content."""
    kind = sniff_kind(data)
    expected = {".docx": "docx", ".pdf": "pdf", ".txt": "text", ".md": "text"}.get(suffix.lower())
    if expected is None:
        raise DocumentError("unsupported_type", suffix)
    if kind != expected:
        raise DocumentError("type_mismatch", f"{suffix} is {kind}")
    if kind == "docx":
        return _docx_text(data)
    if kind == "pdf":
        return _pdf_text(data)
    return decode_text(data)


def _docx_text(data: bytes) -> str:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            total = sum(i.file_size for i in infos)
            packed = max(1, sum(i.compress_size for i in infos))
            if total > _ZIP_MAX_UNCOMPRESSED or total / packed > _ZIP_MAX_RATIO:
                raise DocumentError("zip_bomb")
            if "word/document.xml" not in archive.namelist():
                raise DocumentError("corrupt")
        document = docx.Document(io.BytesIO(data))
    except DocumentError:
        raise
    except Exception as exc:  # python-docx raises many types on damaged files
        raise DocumentError("corrupt", str(exc)) from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n\n".join(lines)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError("encrypted")
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise DocumentError("corrupt", str(exc)) from exc
    if len(re.sub(r"\s", "", text)) < 20:
        raise DocumentError("no_text_layer")
    return text


def classify(text: str) -> DocType:
    """Statute Markdown, an official report, or anything else."""
    if "<!-- INFO END -->" in text or len(re.findall(r"(?m)^第[零一二三四五六七八九十百千]+条", text)) >= 3:
        return "regulation"
    if re.search(r"(?m)^[一二三四五六七八九十]+、", text) and re.search(r"关于.{2,60}(报告|总结|通知|意见)", text):
        return "report"
    return "other"


def doc_id_for(source: str) -> str:
    return "doc:" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def parse_document(
    text: str, source: str, title_hint: str, audience: Audience | None = None, doc_id: str | None = None
) -> ParsedDocument:
    """Turn a document's text into chunks; laws and regulations are public, everything else staff-only."""
    doc_type = classify(text)
    doc_id = doc_id or doc_id_for(source)
    if doc_type == "regulation":
        return _regulation_document(text, source, title_hint, audience or "public", doc_id)
    return _report_document(text, source, title_hint, audience or "staff", doc_id, doc_type)


def load_file(path: Path, audience: Audience | None = None, max_bytes: int | None = None) -> ParsedDocument:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentError("unsupported_type", path.suffix)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise DocumentError("too_large", str(size))
    text = extract_text(path.read_bytes(), path.suffix)
    return parse_document(text, str(path.resolve()), path.stem, audience)


def _regulation_document(text: str, source: str, stem: str, audience: Audience, doc_id: str) -> ParsedDocument:
    statute = parse_statute_markdown(text, stem)
    year = int(statute.version_date[:4]) if statute.version_date else 0
    base = {"doc_id": doc_id, "title": statute.title, "doc_type": "regulation", "audience": audience,
            "year": year, "source": source}
    if statute.articles:
        chunks = [
            Chunk(chunk_id=f"{doc_id}:{i}", text=a.text, section_path=a.label,
                  heading=" ".join(p for p in (a.chapter, a.section) if p), article_no=a.number, **base)
            for i, a in enumerate(statute.articles)
        ]
    else:
        chunks = _plain_chunks(text.split("<!-- INFO END -->")[-1], base)
    return ParsedDocument(doc_id=doc_id, title=statute.title, doc_type="regulation", audience=audience,
                          source=source, content_hash=content_hash(text), chunks=chunks, year=year,
                          version_date=statute.version_date, info={"promulgation": statute.info})


def _report_document(
    text: str, source: str, stem: str, audience: Audience, doc_id: str, doc_type: DocType
) -> ParsedDocument:
    official = parse_official_document(text, fallback_title=stem)
    base = {"doc_id": doc_id, "title": official.title or stem, "doc_type": doc_type, "audience": audience,
            "year": official.year, "issuer": official.issuer, "source": source}
    pieces: list[tuple[str, str, str]] = [("文件信息", "", official.info_line())]
    pieces += [("导语", "", p) for p in official.preamble]
    pieces += _section_pieces(official)
    pieces += [("结束语", "", p) for p in official.closing]
    chunks: list[Chunk] = []
    for path, heading, body in pieces:
        for part in split_sentences_to_size(body, MAX_CHUNK_CHARS):
            chunks.append(Chunk(chunk_id=f"{doc_id}:{len(chunks)}", text=part, section_path=path,
                                heading=heading, **base))
    if len(chunks) == 1:  # no outline found: plain paragraphs
        chunks += _plain_chunks(text, base, start=1)
    info = {k: v for k, v in {"doc_number": official.doc_number, "signer": official.signer,
                              "recipient": official.recipient, "printed_by": official.printed_by,
                              "issue_date": official.issue_date}.items() if v}
    return ParsedDocument(doc_id=doc_id, title=base["title"], doc_type=doc_type, audience=audience, source=source,
                          content_hash=content_hash(text), chunks=chunks, year=official.year,
                          issuer=official.issuer, info=info)


def _section_pieces(official: OfficialDocument) -> list[tuple[str, str, str]]:
    """One piece per outline node that has its own text; headings of its ancestors travel with it."""
    pieces = []

    def visit(section: ReportSection, parents: list[str]) -> None:
        trail = [*parents, section.heading] if section.heading else parents
        if section.paragraphs:
            pieces.append((section.path, " / ".join(trail), section.text))
        for child in section.children:
            visit(child, trail)

    for top in official.sections:
        visit(top, [])
    return pieces


def _plain_chunks(text: str, base: dict, start: int = 0) -> list[Chunk]:
    """Documents without articles or outline: paragraphs packed up to the chunk size, under their heading."""
    chunks: list[Chunk] = []
    heading = ""
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            for part in split_sentences_to_size("\n".join(buffer), MAX_CHUNK_CHARS):
                chunks.append(Chunk(chunk_id=f"{base['doc_id']}:{start + len(chunks)}", text=part,
                                    heading=heading, **base))
            buffer.clear()

    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        if line.startswith("#"):
            flush()
            heading = line.lstrip("#").strip()
        elif sum(len(b) for b in buffer) + len(line) > MAX_CHUNK_CHARS:
            flush()
            buffer.append(line)
        else:
            buffer.append(line)
    flush()
    return chunks


def split_sentences_to_size(text: str, limit: int) -> list[str]:
    """Keep a chunk whole when it fits; otherwise cut at sentence ends, never mid-sentence."""
    if len(text) <= limit:
        return [text] if text.strip() else []
    sentences = re.findall(r"[^。！？；\n]+[。！？；]?\n?", text)
    parts, current = [], ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > limit:
            parts.append(current.strip())
            current = ""
        current += sentence
    if current.strip():
        parts.append(current.strip())
    return parts
