"""Turn privacy and theft measurements into findings (AUD-MIA, AUD-INV, AUD-EXT).

Messages state the attack and budget behind each number: "little measurable leakage with
attack X at budget Y" is what a weak result means, never "safe".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlwarden.findings import Confidence, Finding, Location
from mlwarden.rules import get_rule

if TYPE_CHECKING:
    from mlwarden.attacks.extraction import ExtractionResult
    from mlwarden.attacks.membership import MembershipResult
    from mlwarden.attacks.privacy_settings import (
        ExtractionSettings,
        InversionSettings,
        MembershipSettings,
    )


def finding(rule_id: str, source: str, message: str, evidence: str, **details: Any) -> Finding:
    """A finding of ``rule_id`` at the audited model, with the rule's default severity."""
    return Finding(
        rule_id=rule_id,
        severity=get_rule(rule_id).severity,
        confidence=Confidence.HIGH,
        location=Location(source),
        message=message,
        evidence=evidence,
        details={k: v for k, v in details.items() if v is not None},
    )


def membership_findings(
    result: MembershipResult, s: MembershipSettings, source: str
) -> tuple[Finding, ...]:
    """AUD-MIA-001 (strongest attack past the thresholds), -002 (gap), -003 (label-only)."""
    out: list[Finding] = []
    best = result.strongest()
    budget = f"{best.members} members / {best.nonmembers} non-members"
    if result.references:
        budget += f", {result.references} reference models"
    if best.tpr_at_1pct > s.max_tpr_at_1pct_fpr or best.auc > s.max_auc:
        lo, hi = best.ci[2]
        out.append(
            finding(
                "AUD-MIA-001",
                source,
                f"{best.attack} identifies training records: TPR {best.tpr_at_1pct:.1%} at 1% FPR "
                f"(95% CI {lo:.1%}-{hi:.1%}), AUC {best.auc:.3f} ({budget})",
                f"{best.attack} tpr@1%fpr={best.tpr_at_1pct:.4f} auc={best.auc:.4f}",
                attack=best.attack,
                tpr_at_1pct_fpr=round(best.tpr_at_1pct, 4),
                auc=round(best.auc, 4),
            )
        )
    if result.gap > s.max_gap:
        out.append(
            finding(
                "AUD-MIA-002",
                source,
                f"train accuracy {result.train_accuracy:.3f} vs held-out "
                f"{result.test_accuracy:.3f}: gap {result.gap:.3f} > {s.max_gap}",
                f"gap={result.gap:.4f}",
                gap=round(result.gap, 4),
            )
        )
    label = next((x for x in result.scores if x.attack == "label_only"), None)
    if label is not None and label.auc > s.max_auc:
        out.append(
            finding(
                "AUD-MIA-003",
                source,
                f"label-only attack AUC {label.auc:.3f} > {s.max_auc}: hiding scores does not hide "
                "membership",
                f"label_only auc={label.auc:.4f}",
                auc=round(label.auc, 4),
            )
        )
    return tuple(out)


def inversion_findings(
    evidence: dict[str, Any], s: InversionSettings, source: str
) -> tuple[Finding, ...]:
    """AUD-INV-001 per leaking column; AUD-INV-002 for recognisable reconstructions."""
    out: list[Finding] = []
    for entry in evidence.get("attributes", []):
        m = entry["members"]
        if m["advantage"] > s.max_advantage:
            out.append(
                finding(
                    "AUD-INV-001",
                    source,
                    f"column {entry['column']}: recovered for {m['attack_accuracy']:.1%} of "
                    f"training records vs {m['baseline_accuracy']:.1%} from the other columns "
                    "alone "
                    f"(advantage {m['advantage']:.1%}; {m['values']} candidate values)",
                    f"column={entry['column']} advantage={m['advantage']}",
                    column=int(entry["column"]),
                    advantage=float(m["advantage"]),
                )
            )
    rec = evidence.get("reconstruction")
    if rec and rec["identification_rate"] > max(s.max_identification, rec["chance"]):
        out.append(
            finding(
                "AUD-INV-002",
                source,
                f"{rec['mode']} reconstruction: {rec['identification_rate']:.0%} of classes "
                f"recognisable (chance {rec['chance']:.0%}) after {rec['queries']} queries",
                f"identification={rec['identification_rate']}",
                identification_rate=float(rec["identification_rate"]),
            )
        )
    return tuple(out)


def extraction_findings(
    result: ExtractionResult, s: ExtractionSettings, source: str
) -> tuple[Finding, ...]:
    """AUD-EXT-001 for the strictest policy still copied at ``at_budget``; AUD-EXT-002."""
    out: list[Finding] = []
    order = ("label", f"top_k:{s.top_k}", f"rounded:{s.decimals}", "probabilities")
    for policy in order:
        row = result.best(policy, s.at_budget)
        if row is not None and row["fidelity"] >= s.max_fidelity:
            out.append(
                finding(
                    "AUD-EXT-001",
                    source,
                    f"a surrogate trained on {row['budget']} {policy} answers ({row['strategy']} "
                    f"queries) agrees with the model on {row['fidelity']:.1%} of held-out inputs "
                    f"(its accuracy {row['accuracy']:.1%}, the model's "
                    f"{result.victim_accuracy:.1%})",
                    f"policy={policy} budget={row['budget']} fidelity={row['fidelity']}",
                    policy=policy,
                    budget=int(row["budget"]),
                    fidelity=float(row["fidelity"]),
                )
            )
            break
    out.extend(
        finding(
            "AUD-EXT-002",
            source,
            f"equation solving recovered the model from {eq['queries']} {eq['policy']} "
            f"answers (fidelity {eq['fidelity']:.1%})",
            f"policy={eq['policy']} queries={eq['queries']}",
            policy=str(eq["policy"]),
            queries=int(eq["queries"]),
        )
        for eq in result.equation
        if eq.get("recovered")
    )
    return tuple(out)
