"""LoCoMo as a memory-retrieval benchmark: conversations to memories, questions to evidence.

The data set is LoCoMo ("Evaluating Very Long-Term Conversational Memory of LLM Agents",
Maharana et al., ACL 2024, arXiv 2402.17753; github.com/snap-research/LoCoMo, file
``data/locomo10.json``), licensed CC BY-NC 4.0: non-commercial use only, attribution required.
Its provenance is recorded in ``/work/shared/data/retrieval/SOURCES.md``; the file is read from
there and never copied into this repository.

Each of the 10 conversations becomes one tenant with one memory per dialogue turn. A question's
relevant memories are its ``evidence`` turns; category 5 (adversarial, unanswerable) is left out,
as in the published LoCoMo evaluations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from memory.shard import MemoryItem

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCOMO_PATH = REPO_ROOT.parent / "shared" / "data" / "retrieval" / "locomo" / "locomo10.json"
ADVERSARIAL = 5
# LoCoMo's own names for the codes are assigned differently by different harnesses, so the
# tables keep the numeric codes.
CATEGORIES = (1, 2, 3, 4)

_SESSION_KEY = re.compile(r"^session_(\d+)$")
# A few evidence entries are written "D:11:26", "D30:05" or several ids in one string.
_DIA_ID = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass(frozen=True)
class Turn:
    memory_id: int
    dia_id: str
    speaker: str
    session: int
    text: str
    event_at: datetime


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[int]  # memory ids


@dataclass(frozen=True)
class Conversation:
    tenant: int
    sample_id: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]
    unresolved_evidence: int  # evidence entries that name no turn of the conversation

    def items(self, *, created_at: datetime) -> list[MemoryItem]:
        return [
            MemoryItem(
                id=turn.memory_id,
                memory_type="conversation_turn",
                content=turn.text,
                metadata={"speaker": turn.speaker, "session": turn.session, "dia_id": turn.dia_id},
                created_at=created_at,
                event_at=turn.event_at,
            )
            for turn in self.turns
        ]


def parse_session_date(value: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def memory_id(tenant: int, dia_id: str) -> int | None:
    """A stable id per turn that also says which tenant it belongs to (tenant * 10^6 + ...)."""
    match = _DIA_ID.fullmatch(dia_id.strip())
    if match is None:
        return None
    session, turn = int(match[1]), int(match[2])
    return tenant * 1_000_000 + session * 1_000 + turn


def tenant_of(memory_id_: int) -> int:
    return memory_id_ // 1_000_000


def turn_text(turn: Mapping[str, object]) -> str:
    text = str(turn.get("text", "")).strip()
    caption = turn.get("blip_caption")
    if isinstance(caption, str) and caption.strip():
        text = f"{text} [image: {caption.strip()}]" if text else f"[image: {caption.strip()}]"
    return text


def _conversation(tenant: int, sample: Mapping[str, object]) -> Conversation:
    conversation = sample["conversation"]
    assert isinstance(conversation, Mapping)
    turns: list[Turn] = []
    for key, value in conversation.items():
        match = _SESSION_KEY.match(key)
        if match is None or not isinstance(value, list):
            continue
        session = int(match[1])
        event_at = parse_session_date(str(conversation[f"{key}_date_time"]))
        for raw in value:
            identifier = memory_id(tenant, raw["dia_id"])
            if identifier is None:
                raise ValueError(f"unparseable dia_id {raw['dia_id']!r} in {key}")
            turns.append(
                Turn(
                    memory_id=identifier,
                    dia_id=raw["dia_id"],
                    speaker=raw["speaker"],
                    session=session,
                    text=turn_text(raw),
                    event_at=event_at,
                )
            )
    known = {turn.memory_id for turn in turns}
    questions: list[Question] = []
    unresolved = 0
    qa = sample["qa"]
    assert isinstance(qa, list)
    for raw in qa:
        if raw["category"] == ADVERSARIAL:
            continue
        evidence: set[int] = set()
        for entry in raw.get("evidence", []):
            found = {
                identifier
                for part in _DIA_ID.finditer(entry)
                if (identifier := memory_id(tenant, part.group())) in known
            }
            unresolved += not found
            evidence |= found
        if evidence:
            questions.append(
                Question(str(raw["question"]), int(raw["category"]), frozenset(evidence))
            )
    return Conversation(
        tenant=tenant,
        sample_id=str(sample["sample_id"]),
        turns=tuple(turns),
        questions=tuple(questions),
        unresolved_evidence=unresolved,
    )


def load_locomo(path: Path = LOCOMO_PATH) -> list[Conversation]:
    samples = json.loads(path.read_text(encoding="utf-8"))
    return [_conversation(tenant, sample) for tenant, sample in enumerate(samples)]


@dataclass(frozen=True)
class Scores:
    """Mean per-question metrics; recall@k is the share of a question's evidence in its top k."""

    questions: int
    recall_at_5: float
    recall_at_10: float
    hit_at_5: float
    mrr_at_10: float


def question_scores(ranked: Sequence[int], evidence: frozenset[int]) -> tuple[float, ...]:
    """(recall@5, recall@10, hit@5, reciprocal rank of the first evidence turn in the top 10)."""
    top5, top10 = set(ranked[:5]), set(ranked[:10])
    first = next((rank for rank, i in enumerate(ranked[:10], start=1) if i in evidence), None)
    return (
        len(evidence & top5) / len(evidence),
        len(evidence & top10) / len(evidence),
        float(bool(evidence & top5)),
        1.0 / first if first else 0.0,
    )


def mean_scores(rows: Sequence[tuple[float, ...]]) -> Scores:
    if not rows:
        return Scores(0, 0.0, 0.0, 0.0, 0.0)
    sums = [sum(column) / len(rows) for column in zip(*rows, strict=True)]
    return Scores(len(rows), *sums)
