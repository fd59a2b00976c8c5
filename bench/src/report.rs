//! The results table: figure, value, baseline, ratio, target, met?

/// One row of `bench/RESULTS.md`.
pub struct Row {
    pub figure: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(figure: impl Into<String>, value: impl Into<String>, baseline: impl Into<String>) -> Row {
        Row { figure: figure.into(), value: value.into(), baseline: baseline.into(), ratio: "-".into(), target: "-".into(), met: None }
    }
    pub fn ratio(mut self, r: f64) -> Row {
        self.ratio = if r.is_finite() { format!("{r:.2}") } else { "-".into() };
        self
    }
    pub fn target(mut self, t: impl Into<String>, met: bool) -> Row {
        self.target = t.into();
        self.met = Some(met);
        self
    }
}

/// The markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from("| figure | value | baseline | ratio | target | met? |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        s.push_str(&format!("| {} | {} | {} | {} | {} | {} |\n", r.figure, r.value, r.baseline, r.ratio, r.target, met));
    }
    s
}
