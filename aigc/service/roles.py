"""Roles in a shared studio: admins (`aigc serve --auth … --admin USER`) and visitors.

With logins, people share one studio but not everything in it:

* a fine-tuned version belongs to whoever ran it: its owner and the admins see it, nobody else,
  until an admin publishes it (model_versions.owner/published, migration 0003);
* a visitor fine-tunes on their own ratings only; an admin may use anyone's (or everyone's);
* a stored sample's latent is shown only to the person it was shown to (and to admins): latents of
  uploaded photos are as private as the photos.

Without logins (`enforced=False`) there are no identities to protect versions with, so every
version is everyone's, as before; sample latents stay per session even then. A `viewer` of None
means the studio itself or the CLI, which may see everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from aigc.service.errors import StudioError
from feedback_db import VersionInfo


@dataclass(frozen=True)
class Roles:
    """Who is an admin, and whether roles apply at all (they do with --auth)."""

    enforced: bool = False
    admins: frozenset[str] = frozenset()

    def is_admin(self, who: str | None) -> bool:
        """Admins (and the studio itself, who=None) may see and do everything."""
        return who is None or (self.enforced and who in self.admins)

    def can_see(self, version: VersionInfo, viewer: str | None) -> bool:
        return not self.enforced or version.published or version.owner == viewer or self.is_admin(viewer)

    def can_read_sample(self, shown_to: str | None, viewer: str | None) -> bool:
        return self.is_admin(viewer) or (shown_to is not None and shown_to == viewer)

    def finetune_rater(self, rater: str | None, requester: str | None) -> str | None:
        """Whose ratings a run may use: a visitor's own only; an admin's (or the CLI's) choice."""
        if not self.enforced or self.is_admin(requester):
            return rater
        if rater not in (None, requester):
            raise StudioError("you can fine-tune only on your own ratings (an admin can use everyone's)")
        return requester

    def require_admin(self, who: str | None, what: str) -> None:
        if not self.is_admin(who):
            raise StudioError(f"only an admin can {what}")
