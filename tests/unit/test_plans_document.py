"""The printable plan's texts and rendering without a node: every fixed text in every language, Persian RTL."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from pypdf import PdfReader

from services.plans import document, texts
from services.plans.models import GoalPublic, StepPublic
from services.plans.schemas import AgreementPublic, VersionPublic
from shared.events.codes import GoalStatus, Topic
from shared.events.plans import PartnerType, StepActor, StepStatus

NOW = datetime.now(UTC)


def test_every_fixed_text_is_there_in_every_language_and_every_code_has_one() -> None:
    for key, values in texts._TEXTS.items():
        assert len(values) == len(texts.LANGUAGES) and all(v.strip() for v in values), key
    keys = ([f"area.{t}" for t in Topic] + [f"goal.{s}" for s in GoalStatus] + [f"step.{s}" for s in StepStatus]
            + [f"partner.{p}" for p in PartnerType] + [f"who.{a}" for a in StepActor if a != StepActor.partner])
    assert [k for k in keys if k not in texts._TEXTS] == []
    for lang in texts.LANGUAGES:
        sentence = texts.text("agreement_sentence", lang).format(day="01.02.2027",
                                                                 language=texts.language_name("fa", lang))
        assert "01.02.2027" in sentence and texts.LANGUAGE_NAMES["fa"][texts.LANGUAGES.index(lang)] in sentence
    assert texts.language_name("ti", "de") == "ti"  # a language without a name here shows its code


def test_a_draft_prints_in_german_and_persian_right_to_left() -> None:
    step = StepPublic(id="s1", goal_id="g1", what="Wohnungsamt anrufen", who="client", partner_type=None,
                      due_on=None, status="open", created_at=NOW, updated_at=NOW)
    goal = GoalPublic(id="g1", plan_id="p1", area="housing", title="Eigene Wohnung finden", target_date=None,
                      status="in_progress", created_at=NOW, updated_at=NOW, steps=[step])
    draft = VersionPublic(plan_id="p1", number=2, status="draft", agreement=None, goals=[goal])
    pdf = document.printed(draft, lang="fa", review_on=date(2027, 1, 1))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    for expected in ("Integrationsplan", "برنامه ادغام", "Entwurf", "هنوز توافق نشده", "Wohnen", "مسکن",
                     "Eigene Wohnung finden", "Wohnungsamt anrufen", "In Arbeit", "در حال انجام"):
        assert expected in text, expected
    assert "Vereinbarung" in text and "Nächste Überprüfung" not in text  # a draft has no agreement yet


def test_the_agreement_reads_in_ukrainian_beside_german() -> None:
    agreed = AgreementPublic(number=1, agreed_on=date(2026, 11, 2), language="uk", signed_on_paper=False,
                             recorded_by="m1", created_at=NOW)
    version = VersionPublic(plan_id="p1", number=1, status="agreed", agreement=agreed, goals=[])
    pdf = document.printed(version, lang="uk", review_on=date(2027, 5, 2))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "пояснено мені українською мовою" in text and "auf Ukrainisch erklärt" in text
    assert "02.11.2026" in text and "02.05.2027" in text and "Наступний перегляд" in text
