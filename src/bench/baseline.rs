//! `lumon bench --baseline old.json --max-regression PCT`: compares a report with an earlier one, field by
//! field through their JSON (so reports of older versions still compare on what they share), and fails when
//! `frame_ms.p95` grew by more than PCT percent.

use serde_json::Value;

/// Fields compared, as JSON pointers, with whether larger is better.
const FIELDS: [(&str, bool); 14] = [
    ("/frame_ms/p50", false),
    ("/frame_ms/p95", false),
    ("/frame_ms/p99", false),
    ("/gpu_wait_ms/p50", false),
    ("/cpu_phases_ms/stream/p50", false),
    ("/cpu_phases_ms/voxel/p50", false),
    ("/cpu_phases_ms/probes/p50", false),
    ("/cpu_phases_ms/upload/p50", false),
    ("/cpu_phases_ms/encode/p50", false),
    ("/gpu_passes_ms/gbuffer/p50", false),
    ("/gpu_passes_ms/lighting/p50", false),
    ("/gpu_passes_ms/tonemap/p50", false),
    ("/rays_per_second", true),
    ("/irradiance_error/mean_relative", false),
];

/// The field whose growth fails the check.
pub const GATE: &str = "/frame_ms/p95";

/// One compared field.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// JSON pointer of the field.
    pub field: &'static str,
    /// Its value in the baseline.
    pub old: f64,
    /// Its value now.
    pub new: f64,
    /// `(new - old) / old` in percent (`None` when `old` is 0).
    pub percent: Option<f64>,
    /// True when the change is for the worse.
    pub worse: bool,
}

/// The outcome of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Fields both reports have.
    pub changes: Vec<Change>,
    /// Settings that differ (world, size, adapter, path), which make the comparison less meaningful.
    pub mismatches: Vec<String>,
    /// The gate's change in percent (`None` when a report lacks it).
    pub gate_percent: Option<f64>,
}

/// Compares `new` with `old`.
pub fn compare(old: &Value, new: &Value) -> Comparison {
    let mut changes = Vec::new();
    for (field, higher_is_better) in FIELDS {
        let (Some(a), Some(b)) =
            (old.pointer(field).and_then(Value::as_f64), new.pointer(field).and_then(Value::as_f64))
        else {
            continue;
        };
        let percent = (a != 0.0).then(|| (b - a) / a.abs() * 100.0);
        let worse = if higher_is_better { b < a } else { b > a };
        changes.push(Change { field, old: a, new: b, percent, worse });
    }
    let mut mismatches = Vec::new();
    for field in ["/world", "/path", "/size", "/adapter/name", "/settings", "/frames", "/warmup"] {
        let (a, b) = (old.pointer(field), new.pointer(field));
        if a != b {
            let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), Value::to_string);
            mismatches.push(format!("{}: {} then, {} now", &field[1..], show(a), show(b)));
        }
    }
    let gate_percent = changes.iter().find(|c| c.field == GATE).and_then(|c| c.percent);
    Comparison { changes, mismatches, gate_percent }
}

impl Comparison {
    /// True when the gate grew by more than `max_percent` (or cannot be compared).
    pub fn regressed(&self, max_percent: f64) -> bool {
        self.gate_percent.is_none_or(|p| p > max_percent)
    }

    /// The table printed by the bench.
    pub fn table(&self) -> String {
        let mut out = format!("{:<34} {:>12} {:>12} {:>9}\n", "field", "baseline", "now", "change");
        for c in &self.changes {
            let pct = c.percent.map_or("-".to_string(), |p| format!("{p:+.1} %"));
            let mark = if c.worse && c.percent.is_some_and(|p| p.abs() >= 1.0) { "  worse" } else { "" };
            out += &format!("{:<34} {:>12.4} {:>12.4} {:>9}{mark}\n", &c.field[1..], c.old, c.new, pct);
        }
        for m in &self.mismatches {
            out += &format!("note: the runs differ in {m}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(p95: f64, rays: f64) -> Value {
        json!({"world": "cornell", "size": [64, 64], "frame_ms": {"p50": 10.0, "p95": p95, "p99": 20.0},
               "rays_per_second": rays})
    }

    #[test]
    fn equal_reports_pass_and_a_slower_p95_fails() {
        let old = report(12.0, 1e6);
        let same = compare(&old, &old);
        assert_eq!(same.gate_percent, Some(0.0));
        assert!(!same.regressed(0.0) && same.mismatches.is_empty());
        let slower = compare(&old, &report(15.0, 1e6));
        assert!((slower.gate_percent.unwrap() - 25.0).abs() < 1e-9);
        assert!(slower.regressed(10.0) && !slower.regressed(30.0));
        let faster = compare(&old, &report(6.0, 2e6));
        assert!(!faster.regressed(0.0));
        let rays = faster.changes.iter().find(|c| c.field == "/rays_per_second").unwrap();
        assert!(!rays.worse, "more rays per second is better");
    }

    #[test]
    fn a_report_without_the_gate_fails_and_differences_are_named() {
        let old = json!({"world": "valley"});
        let c = compare(&old, &report(12.0, 1e6));
        assert!(c.regressed(100.0));
        assert!(c.mismatches.iter().any(|m| m.starts_with("world")), "{:?}", c.mismatches);
        assert!(c.table().contains("note: the runs differ in world"));
    }
}
