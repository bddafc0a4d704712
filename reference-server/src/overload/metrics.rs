//! `/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand: a dozen
//! families do not need a metrics crate, and every value is read straight from the counters the
//! server keeps anyway.
//!
//! Families (all prefixed `chat_`): `connections`, `in_flight{kind}`, `requests_started_total{kind}`,
//! `bulkhead_limit{kind}`, `bulkhead_waiting{kind}`, `rejections_total{kind,reason}`,
//! `overload_level`, `overload_utilization`, `scheduler_lag_seconds`, `runtime_busy_ratio`,
//! `overload_enabled`, `overload_config_revision`, `overload_config_changes_total`,
//! `overload_config_refused_total`, `hot_rooms`, `hot_marks_total`, `pushes_total{class}`,
//! `pushes_thinned_total{class}`, `pushes_owed_sent_total{class}`, `messages_in_total`,
//! `messages_out_total`, `packets_written_total`, `bytes_written_total`.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{Overload, PushClass, Reason, RequestKind};

/// Content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP chat_{name} {help}");
        let _ = writeln!(self.0, "# TYPE chat_{name} {kind}");
    }

    fn value(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.0, "chat_{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                // Label values here are fixed identifiers: nothing to escape.
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// Renders every family. `connections` comes from the gateway.
pub fn render(overload: &Overload, connections: usize) -> String {
    let mut out = Out(String::with_capacity(8 * 1024));
    let s = &overload.stats;
    let live = overload.live();

    out.family("connections", "gauge", "Socket.IO sessions open.");
    out.value("connections", &[], connections);

    out.family("in_flight", "gauge", "Admitted work running now, by kind.");
    for k in RequestKind::ALL {
        out.value(
            "in_flight",
            &[("kind", k.config_name())],
            overload.in_flight(k),
        );
    }
    out.family(
        "requests_started_total",
        "counter",
        "Work admitted, by kind.",
    );
    for k in RequestKind::ALL {
        out.value(
            "requests_started_total",
            &[("kind", k.config_name())],
            overload.started(k),
        );
    }
    out.family("bulkhead_limit", "gauge", "Concurrency cap, by kind.");
    for k in RequestKind::ALL {
        out.value(
            "bulkhead_limit",
            &[("kind", k.config_name())],
            overload.bulkhead(k).limit(),
        );
    }
    out.family(
        "bulkhead_waiting",
        "gauge",
        "Work waiting for a slot, by kind.",
    );
    for k in RequestKind::ALL {
        out.value(
            "bulkhead_waiting",
            &[("kind", k.config_name())],
            overload.bulkhead(k).waiting(),
        );
    }
    out.family(
        "rejections_total",
        "counter",
        "Work refused, by kind and reason (bulkhead_full, queue_timeout, shed, background, timeout).",
    );
    for k in RequestKind::ALL {
        for r in Reason::ALL {
            out.value(
                "rejections_total",
                &[("kind", k.config_name()), ("reason", r.as_str())],
                overload.rejected(k, r),
            );
        }
    }

    out.family("overload_level", "gauge", "Load level, 0 (normal) to 3.");
    out.value("overload_level", &[], overload.level());
    out.family(
        "overload_utilization",
        "gauge",
        "Utilization behind the level: max(in flight / capacity, scheduler lag / lag at full).",
    );
    out.value("overload_utilization", &[], overload.utilization());
    out.family(
        "scheduler_lag_seconds",
        "gauge",
        "How late the sampling task last woke up.",
    );
    out.value(
        "scheduler_lag_seconds",
        &[],
        overload.scheduler_lag().as_secs_f64(),
    );
    out.family(
        "runtime_busy_ratio",
        "gauge",
        "Share of the last sample interval the worker threads were busy (not used for the level).",
    );
    out.value("runtime_busy_ratio", &[], overload.busy_ratio());
    out.family("overload_enabled", "gauge", "1 when overload control acts.");
    out.value("overload_enabled", &[], u8::from(live.config.enabled));
    out.family(
        "overload_config_revision",
        "gauge",
        "Revision of the overload config in force.",
    );
    out.value("overload_config_revision", &[], live.revision);
    out.family(
        "overload_config_changes_total",
        "counter",
        "Config revisions applied here.",
    );
    out.value(
        "overload_config_changes_total",
        &[],
        s.config_changes.load(Ordering::Relaxed),
    );
    out.family(
        "overload_config_refused_total",
        "counter",
        "Config documents refused (file or other instances).",
    );
    out.value(
        "overload_config_refused_total",
        &[],
        s.config_refused.load(Ordering::Relaxed),
    );

    out.family("hot_rooms", "gauge", "Rooms hot now.");
    out.value("hot_rooms", &[], overload.hot_rooms());
    out.family(
        "hot_marks_total",
        "counter",
        "Times this instance marked a room hot.",
    );
    out.value("hot_marks_total", &[], s.hot_marks.load(Ordering::Relaxed));
    out.family(
        "pushes_total",
        "counter",
        "Recoverable pushes delivered when they happened, by class.",
    );
    for c in PushClass::ALL {
        out.value(
            "pushes_total",
            &[("class", c.as_str())],
            s.pushed[c.index()].load(Ordering::Relaxed),
        );
    }
    out.family(
        "pushes_thinned_total",
        "counter",
        "Recoverable pushes not delivered when they happened (hot rooms), by class.",
    );
    for c in PushClass::ALL {
        out.value(
            "pushes_thinned_total",
            &[("class", c.as_str())],
            s.thinned[c.index()].load(Ordering::Relaxed),
        );
    }
    out.family(
        "pushes_owed_sent_total",
        "counter",
        "Owed pushes (latest state, merged receipts) sent to members that missed one, by class.",
    );
    for c in PushClass::ALL {
        out.value(
            "pushes_owed_sent_total",
            &[("class", c.as_str())],
            s.owed_sent[c.index()].load(Ordering::Relaxed),
        );
    }
    out.family("messages_in_total", "counter", "Chat messages received.");
    out.value(
        "messages_in_total",
        &[],
        s.messages_in.load(Ordering::Relaxed),
    );
    out.family(
        "messages_out_total",
        "counter",
        "Chat message deliveries to sockets on this instance.",
    );
    out.value(
        "messages_out_total",
        &[],
        s.messages_out.load(Ordering::Relaxed),
    );
    out.family(
        "packets_written_total",
        "counter",
        "Engine.IO packets written to clients: every event, ack and heartbeat.",
    );
    out.value(
        "packets_written_total",
        &[],
        s.packets_written.load(Ordering::Relaxed),
    );
    out.family(
        "bytes_written_total",
        "counter",
        "Bytes of those packets (websocket payloads, polling response bodies).",
    );
    out.value(
        "bytes_written_total",
        &[],
        s.bytes_written.load(Ordering::Relaxed),
    );
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_line_is_name_labels_value_and_every_family_is_typed() {
        let overload = Overload::default();
        overload.count_message(9);
        overload.count_written(4, 120);
        let text = render(&overload, 3);
        assert!(text.contains("chat_connections 3\n"), "{text}");
        assert!(text.contains("chat_messages_out_total 9\n"));
        assert!(text.contains("chat_packets_written_total 4\n"));
        assert!(text.contains("chat_bytes_written_total 120\n"));
        assert!(text.contains("chat_rejections_total{kind=\"room_list\",reason=\"shed\"} 0\n"));
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(kind == "gauge" || kind == "counter", "{line}");
                typed.insert(name.to_owned());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
            let name = series.split('{').next().unwrap();
            assert!(typed.contains(name), "{name} has no TYPE line");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
    }
}
