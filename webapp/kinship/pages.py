"""Pages of one proof material (户口本 首页 + 本人页): added one by one into the draft's set,
removed before the step is submitted, listed for the holder and the reviewer.

Every page goes through ``materials.store`` (type by content, size, PDF checks, pixel limits);
a refused page leaves the pages already stored as they are. The pages of one material share
``set_key``; the binding names the first page.
"""

from __future__ import annotations

import secrets
from typing import BinaryIO

from sqlalchemy import select

from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.kinship import materials
from webapp.models import InsuredPerson, KinshipBinding, KinshipMaterial
from webapp.policy import current_table, material_label


def pages_of(material: KinshipMaterial | None) -> list[KinshipMaterial]:
    """Every page of the material, in page order (the material alone when it has one page)."""
    if material is None:
        return []
    if material.set_key is None:
        return [material]
    return list(db.session.scalars(
        select(KinshipMaterial)
        .where(KinshipMaterial.owner_person_id == material.owner_person_id,
               KinshipMaterial.set_key == material.set_key)
        .order_by(KinshipMaterial.page_no, KinshipMaterial.id)
    ))


def set_pages(owner: InsuredPerson, set_key: str | None) -> list[KinshipMaterial]:
    """The owner's pages of a set, in page order ([] for no set)."""
    if not set_key:
        return []
    first = db.session.scalar(
        select(KinshipMaterial)
        .where(KinshipMaterial.owner_person_id == owner.id, KinshipMaterial.set_key == set_key)
        .order_by(KinshipMaterial.page_no, KinshipMaterial.id).limit(1)
    )
    return pages_of(first)


def new_set_key() -> str:
    """A fresh key for a material's pages."""
    return secrets.token_hex(16)


def add_page(owner: InsuredPerson, set_key: str, material_type: str, stream: BinaryIO,
             allowed_types: list[str] | tuple[str, ...], formats: list[str] | tuple[str, ...],
             max_bytes: int, actor: Actor) -> KinshipMaterial:
    """Check and store one more page of the set (committed, audited); DomainError if refused.
    The owner's row is locked first (PostgreSQL), so pages added at once cannot pass the
    table's most between them."""
    db.session.execute(select(InsuredPerson.id).where(InsuredPerson.id == owner.id)
                       .with_for_update()).all()
    pages = set_pages(owner, set_key)
    if pages and pages[0].material_type != material_type:
        raise DomainError("您更换了材料类型，请先删除已上传的页面，再上传对应的材料",
                          field="material_type", code="type_changed")
    most = current_table().pages_for(material_type).max
    if len(pages) >= most:
        raise DomainError(f"{material_label(material_type)}最多上传{most}页", field="file",
                          code="too_many_pages")
    page_no = (pages[-1].page_no + 1) if pages else 1
    return materials.store(owner, material_type, stream, allowed_types, formats, max_bytes,
                           actor, set_key=set_key, page_no=page_no)


def remove_page(owner: InsuredPerson, set_key: str | None, public_id: str | None) -> bool:
    """Delete one page of the owner's set before it is submitted (True when one was removed)."""
    page = materials.owned(owner, public_id)
    if page is None or not set_key or page.set_key != set_key:
        return False
    materials.discard_unused(owner, page.public_id)
    return materials.owned(owner, public_id) is None


def discard_set(owner: InsuredPerson, set_key: str | None, head: str | None = None) -> None:
    """Delete a draft's pages (rows and files) unless a binding already uses the material."""
    pages = set_pages(owner, set_key) or ([m] if (m := materials.owned(owner, head)) else [])
    ids = [p.id for p in pages]
    if not ids or db.session.scalar(
            select(KinshipBinding.id).where(KinshipBinding.material_id.in_(ids))):
        return
    for page in pages:
        materials.discard_unused(owner, page.public_id)


def add_pages(owner: InsuredPerson, set_key: str, material_type: str,
              uploads: list[BinaryIO], allowed_types: list[str] | tuple[str, ...],
              formats: list[str] | tuple[str, ...], max_bytes: int,
              actor: Actor) -> tuple[int, list[tuple[str, str]]]:
    """Store each upload as the next page; a refused one is skipped and the rest go on.

    Returns how many were stored and the refusals as (field, message) pairs; a message names
    the file by its place in the selection when more than one was chosen.
    """
    stored, refused = 0, []
    for number, stream in enumerate(uploads, start=1):
        try:
            add_page(owner, set_key, material_type, stream, allowed_types, formats, max_bytes,
                     actor)
            stored += 1
        except DomainError as err:
            db.session.rollback()
            where = f"第{number}个文件：" if len(uploads) > 1 else ""
            refused.append((err.field or "file", where + err.message))
    return stored, refused
