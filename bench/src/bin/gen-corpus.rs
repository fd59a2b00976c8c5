//! Writes the synthetic System Log corpus: `gen-corpus OUT.ndjson [N] [SEED]`.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "corpus.ndjson".into());
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200_000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let t = std::time::Instant::now();
    let bytes = oktawatch_bench::corpus::write(std::path::Path::new(&out), n, seed)?;
    eprintln!("{n} events, {:.1} MB ({} B mean) to {out} in {:.1?}", bytes as f64 / 1e6, bytes / n.max(1), t.elapsed());
    Ok(())
}
