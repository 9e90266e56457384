"""The development mailbox: where mail goes when no SMTP server is configured."""

from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from pressroom.db.base import Base, CreatedAtMixin, IdMixin


class DevMail(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "dev_mail"

    to_address: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
