"""A SoakResult as Figures for ``sitegate bench`` (gateway/bench/__init__.py), and as the text that
explains them: what was done when, why records were dead-lettered, what the harness noticed."""
from __future__ import annotations

from sitegate.bench import Figure
from sitegate.idcard import mask
from sitegate.bench.soakkit.tally import DEFAULT_TOLERANCE_S, SoakResult

MOSQUITTO_NAME = "local Mosquitto bridge, same events and SIGKILLs"


def figures(r: SoakResult) -> list[Figure]:
    mq = r.mosquitto
    out = [
        Figure("events lost (acknowledged at a gate, never at the platform, no dead letter)", r.lost_count,
               "events", baseline=float(mq.lost) if mq is not None else None,
               baseline_name=MOSQUITTO_NAME if mq is not None else "", target="= 0", met=r.lost_count == 0),
    ]
    if mq is not None:
        out.append(Figure(f"events lost, {MOSQUITTO_NAME} ({mq.acknowledged} PUBACKed, {mq.local_kills} broker kills)",
                          mq.lost, "events"))
    out += [
        Figure("duplicates at the platform outside the lost-response window", r.duplicates_unexplained, "records",
               target="= 0", met=r.duplicates_unexplained == 0),
        Figure("passages acknowledged at the gates (attempts)", r.acknowledged, f"of {r.planned} planned "
               f"({r.attempts} attempts)"),
        Figure("records made by the device simulators", r.produced, "records"),
        Figure("events admitted by the gateway", r.gateway_admitted, "events"),
        Figure("records delivered (at the platform, accepted)", r.platform_records, "records"),
        Figure("duplicates at the platform, all (absorbed by its key)", r.platform_duplicates, "records"),
        Figure("dead-lettered with a reason (of the acknowledged passages)", len(r.dead),
               f"({r.dead_letters_total} dead letters in all)"),
        Figure("still waiting in the gateway at the end (of the acknowledged passages)", len(r.queued), "events"),
        Figure("records at the platform without a confirmed passage or twice for one",
               sum(r.extra_unacknowledged.values()) + sum(r.extra_second_record.values()), "records"),
        Figure(f"records more than {DEFAULT_TOLERANCE_S:.0f} s off the passage time", sum(r.wrong_time.values()),
               f"records (max {r.max_time_error_s:.0f} s)"),
        Figure("maximum backlog seen (held + pending + inflight)", r.max_backlog, "events"),
    ]
    if r.p99_latency_ms is not None:
        out.append(Figure("p99 gate decision latency, gateway up (WG online mode: swipe -> door opened, "
                          "at the simulator)", r.p99_latency_ms,
                          f"ms (p50 {r.p50_latency_ms:.1f} ms, n={r.latency_samples})"))
    if r.p99_latency_all_ms is not None:
        out.append(Figure("p99 gate decision latency, also swipes made while the gateway restarted",
                          r.p99_latency_all_ms, f"ms (n={r.latency_samples_all})"))
    out += [
        Figure(f"peak RSS of the daemon (VmHWM, max over {r.starts} processes)", r.peak_rss_mb, "MB"),
        Figure("gateway SIGKILLs (each restarted)", r.kills,
               f"kills (median restart to READY {r.median_start_s:.1f} s)"),
        Figure("run time (setup, shift, drain, count)", r.duration_s / 60, "min"),
    ]
    return out


def text(r: SoakResult) -> str:
    lines = [f"soak: {r.workers} workers; lanes: {', '.join(r.lanes)}",
             f"gateway started as: python {r.launcher}",
             f"drain: {'complete' if r.drained else 'NOT complete'} after {r.drain_s:.0f} s"]
    if r.faults:
        lines.append("faults:")
        lines += [f"  {line}" for line in r.faults]
    for s in r.skipped_faults:
        lines.append(f"  {s}")
    if r.dead_letter_reasons:
        lines.append("dead letters by reason:")
        lines += [f"  {n} x {reason}" for reason, n in r.dead_letter_reasons.most_common()]
    for title, items in (("LOST", r.lost), ("dead-lettered passages", r.dead), ("still waiting", r.queued)):
        if items:
            lines.append(f"{title}:")
            for m in items[:20]:
                p = m.passage
                lines.append(f"  {p.kind} {p.lane} {p.direction} {mask(p.person.id_number)} "
                             f"seq {p.seq}: {m.verdict} {m.detail}".rstrip())
            if len(items) > 20:
                lines.append(f"  … and {len(items) - 20} more")
    if r.wrong_time:
        lines.append("records off the passage time by lane kind: " +
                     ", ".join(f"{k} {v}" for k, v in sorted(r.wrong_time.items())))
    extra = {**{f"{k} (not confirmed to the worker)": v for k, v in r.extra_unacknowledged.items()},
             **{f"{k} (second record)": v for k, v in r.extra_second_record.items()}}
    if extra:
        lines.append("extra records: " + ", ".join(f"{k} {v}" for k, v in sorted(extra.items())))
    if r.refusals:
        lines.append("attempts not acknowledged (the worker tried again): " +
                     ", ".join(f"{k} {v}" for k, v in sorted(r.refusals.items())))
    if r.not_acknowledged:
        lines.append(f"passages never acknowledged (the worker gave up): {r.not_acknowledged} (" +
                     ", ".join(f"{k} {v}" for k, v in sorted(r.gave_up_by_kind.items())) + ")")
    if r.duplicates_explained:
        lines.append(f"duplicates in the lost-response window: {r.duplicates_explained}")
    if r.mosquitto is not None:
        mq = r.mosquitto
        lines.append(f"Mosquitto bridge: published {mq.published}, PUBACKed {mq.acknowledged}, received "
                     f"{mq.received}, LOST {mq.lost}, duplicates {mq.duplicates}, "
                     f"local broker killed {mq.local_kills} times")
    lines.append(f"CPU: gateway processes and brokers {r.cpu_processes_s[0]:.0f} s user + {r.cpu_processes_s[1]:.0f} s "
                 f"system; harness (simulators, receiver, publisher) {r.cpu_harness_s[0]:.0f} s user + "
                 f"{r.cpu_harness_s[1]:.0f} s system")
    for note in r.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
