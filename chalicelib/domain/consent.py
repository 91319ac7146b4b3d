"""The consent a registration records (contract v1.2, "The person's data"): the text a person agrees
to, in Thai and English, under a version, and what ``GET /v1/consent`` answers.

The version names the text: a change of wording is a new version (the date it takes effect), so a
registration's ``consent.version`` always says which words were agreed to. Registrations made before
consent was recorded read ``models.UNRECORDED`` (their body carried ``consent: true``, nothing more).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from chalicelib.domain.models import ABSENT_NOT_NULL

CONSENT_VERSION = "2026-12-01"

TEXT_TH = (
    "ข้าพเจ้ายินยอมให้เทศบาลนครขอนแก่นเก็บรวบรวมและใช้เลขประจำตัวประชาชน ชื่อ-นามสกุล วันเกิด "
    "เบอร์โทรศัพท์มือถือ ที่อยู่หรือสถานที่ทำงานที่แสดงสิทธิ์ในการลงทะเบียน และข้อมูลการนัดหมายและการฉีดวัคซีน"
    "ของข้าพเจ้า (ข้อมูลสุขภาพ) เพื่อลงทะเบียนฉีดวัคซีน จัดนัดหมาย ส่ง SMS แจ้งนัดหมาย "
    "และแจ้งระบบหมอพร้อมและขอนแก่นพร้อมให้ยกเลิกการจองของข้าพเจ้าเมื่อข้าพเจ้าได้รับสิทธิ์แล้ว "
    "ข้อมูลส่วนบุคคลจะถูกลบเมื่อครบหนึ่งปีหลังวันฉีดวัคซีนวันสุดท้ายของโครงการ "
    "ข้าพเจ้าขอดู ดาวน์โหลด หรือลบข้อมูลของข้าพเจ้าได้ทุกเมื่อที่หน้านี้ และถอนความยินยอมได้โดยการลบข้อมูล "
    "เว้นแต่เมื่อได้รับวัคซีนแล้ว ข้อมูลการฉีดจะถูกเก็บไว้จนครบกำหนดดังกล่าว"
)
TEXT_EN = (
    "I agree that Khon Kaen City Municipality collects and uses my national ID, name, birth date, mobile "
    "phone, the address or employer that makes me eligible, and the record of my appointments and doses "
    "(health data), to register me for vaccination, give me appointments, send me SMS about them, and have "
    "me removed from the Mor Phrom and Khon Kaen Phrom booking systems once I have a place. My personal "
    "data are erased one year after the campaign's last vaccination day. I may see, download or erase my "
    "data at any time on this page, and withdraw this consent by erasing them; once a dose has been given, "
    "the record of it is kept until that day."
)


class ConsentText(BaseModel):
    """``GET /v1/consent``: the consent text a registration agrees to, and who to ask about it."""

    # Sent without ``dpo_contact`` when none is configured (``api.http.respond`` reads this).
    omit_none: ClassVar[bool] = True

    version: str = Field(description="the version a registration records (the day this text took effect)")
    text_th: str
    text_en: str
    dpo_contact: str | None = Field(
        default=None,
        description="how to reach the municipality's data protection officer (DPO_CONTACT)",
        json_schema_extra=ABSENT_NOT_NULL,
    )


def consent_text(dpo_contact: str) -> ConsentText:
    return ConsentText(version=CONSENT_VERSION, text_th=TEXT_TH, text_en=TEXT_EN, dpo_contact=dpo_contact or None)
