"""参保状态 of a registry person as a type (stored in ``insured_person.status``)."""

from __future__ import annotations

from webapp.states import State


class InsuredStatus(State):
    """Whether a person is insured right now; pages show the label and pill."""

    ACTIVE = "active", "参保中", "ok"
    SUSPENDED = "suspended", "暂停", "off"
