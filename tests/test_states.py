"""The shared state machinery: enum members carry label and pill, tables refuse what they lack."""

from __future__ import annotations

import pytest

from webapp.domain import Conflict, Forbidden
from webapp.states import State, Transition, Transitions, status_check


class Light(State):
    """A two-state example."""

    ON = "on", "开", "ok"
    OFF = "off", "关", "off"


TABLE = Transitions(Light, [Transition(Light.ON, "switch", Light.OFF, who={"owner"},
                                       notify=("switched",))])


def test_member_equals_its_stored_string_and_carries_label_and_kind():
    assert Light.ON == "on" and Light("off") is Light.OFF
    assert (Light.ON.label, Light.ON.kind) == ("开", "ok")
    assert Light.values() == ("on", "off")
    assert Light.labels() == {"on": "开", "off": "关"}


def test_unknown_pill_kind_is_refused_when_the_enum_is_declared():
    with pytest.raises(ValueError):
        class Bad(State):
            X = "x", "叉", "purple"


def test_step_answers_the_row_or_refuses_with_the_right_error():
    row = TABLE.step("on", "switch", "owner")
    assert row.target is Light.OFF and row.notify == ("switched",)
    with pytest.raises(Conflict):
        TABLE.step("off", "switch", "owner")
    with pytest.raises(Forbidden):
        TABLE.step("on", "switch", "stranger")
    assert TABLE.events_from("on") == {"switch"} and TABLE.events_from("off") == set()


def test_two_rows_for_one_state_and_event_are_refused():
    with pytest.raises(ValueError):
        Transitions(Light, [Transition(Light.ON, "e", Light.OFF), Transition(Light.ON, "e", Light.ON)])


def test_check_constraint_lists_every_value():
    assert str(status_check(Light).sqltext) == "status in ('on','off')"
