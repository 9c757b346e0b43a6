//! Load benchmark of the problem API against a running server (build both in release):
//!
//! ```text
//! beatline --database-url sqlite://bench.db seed-demo
//! beatline --database-url sqlite://bench.db seed-problems --count 1000000
//! BEATLINE_JWT_SECRET=... beatline --database-url sqlite://bench.db serve &
//! bench --url http://127.0.0.1:8000 --list-rate 500 --report-rate 300 --seconds 20
//! ```
//!
//! Open-loop: requests start at a fixed rate whether or not earlier ones finished, so
//! a slow server shows up as latency (no coordinated omission). Prints the achieved
//! rate and latency percentiles of each phase.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

const LIST: &str = "query($b: ID!) { problems(filter: { beatId: $b, statuses: [NEW, ACKNOWLEDGED, IN_PROGRESS] }, first: 50) {
  edges { node { id reference status supportCount category { name } assignedOfficer { displayName } } }
  pageInfo { endCursor hasNextPage } } }";
const REPORT: &str =
    "mutation($i: ReportProblemInput!) { reportProblem(input: $i) { id reference } }";
const PASSWORD: &str = "beatline-demo";

struct Args {
    url: String,
    list_rate: u64,
    report_rate: u64,
    seconds: u64,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        url: "http://127.0.0.1:8000".into(),
        list_rate: 500,
        report_rate: 300,
        seconds: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => a.url = value,
            "--list-rate" => a.list_rate = value.parse()?,
            "--report-rate" => a.report_rate = value.parse()?,
            "--seconds" => a.seconds = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

async fn gql(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> anyhow::Result<Value> {
    let mut req = client
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await?.json().await?;
    if let Some(errors) = body.get("errors") {
        anyhow::bail!("GraphQL errors: {errors}");
    }
    Ok(body["data"].clone())
}

async fn login(client: &reqwest::Client, url: &str, email: &str) -> anyhow::Result<String> {
    let data = gql(
        client,
        url,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        json!({ "e": email, "p": PASSWORD }),
    )
    .await?;
    data["login"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .context("no access token")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs `make(i)` at `rate` per second for `seconds`, open-loop.
async fn open_loop<F, Fut>(name: &str, rate: u64, seconds: u64, make: F)
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let fut = make(i);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = fut.await;
            (due, t, t.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    let mut first_error = None;
    let mut last_done = started;
    for t in tasks {
        if let Ok((due, start, took, ok)) = t.await {
            match ok {
                // Latency from when the request was due, so client-side queueing counts.
                Ok(()) => latencies.push(start.duration_since(due) + took),
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(e.to_string());
                }
            }
            last_done = last_done.max(start + took);
        }
    }
    latencies.sort();
    let wall = last_done.duration_since(started).as_secs_f64();
    println!(
        "{name}: {} ok, {errors} errors in {wall:.1} s = {:.0}/s (target {rate}/s); latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / wall,
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 90.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    if let Some(e) = first_error {
        println!("  first error: {e}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let officer = login(&client, &a.url, "officer.1011@demo.beatline.city").await?;
    let beats = gql(&client, &a.url, None, "{ beats { id code } }", json!({})).await?;
    let beat_id = beats["beats"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["code"] == "1011"))
        .map(|b| b["id"].clone())
        .context("no beat 1011: load the demo city")?;
    // Points inside beats, taken from existing problems.
    let spots = gql(
        &client,
        &a.url,
        None,
        "{ problems(first: 100) { edges { node { lat lon } } } }",
        json!({}),
    )
    .await?;
    let points: Vec<(f64, f64)> = spots["problems"]["edges"]
        .as_array()
        .context("no problems")?
        .iter()
        .filter_map(|e| Some((e["node"]["lat"].as_f64()?, e["node"]["lon"].as_f64()?)))
        .collect();
    let mut residents = Vec::new();
    for i in 1..=20 {
        residents.push(login(&client, &a.url, &format!("resident{i}@demo.beatline.city")).await?);
    }

    // Warm-up.
    for _ in 0..50 {
        gql(
            &client,
            &a.url,
            Some(&officer),
            LIST,
            json!({ "b": beat_id }),
        )
        .await?;
    }

    let (c, url, tok, beat) = (
        client.clone(),
        a.url.clone(),
        officer.clone(),
        beat_id.clone(),
    );
    open_loop(
        "problems(beat, open, first: 50)",
        a.list_rate,
        a.seconds,
        move |_| {
            let (c, url, tok, beat) = (c.clone(), url.clone(), tok.clone(), beat.clone());
            async move {
                gql(&c, &url, Some(&tok), LIST, json!({ "b": beat })).await?;
                Ok(())
            }
        },
    )
    .await;

    let (c, url) = (client.clone(), a.url.clone());
    let run = uuid::Uuid::now_v7();
    open_loop("reportProblem", a.report_rate, a.seconds, move |i| {
        let (c, url) = (c.clone(), url.clone());
        let token = residents[(i as usize) % residents.len()].clone();
        let (lat, lon) = points[(i as usize) % points.len()];
        async move {
            let input = json!({
                "idempotencyKey": format!("bench-{run}-{i}"),
                "categoryCode": "NOISE",
                "description": "Loud music after midnight (benchmark).",
                "lat": lat, "lon": lon,
            });
            gql(&c, &url, Some(&token), REPORT, json!({ "i": input })).await?;
            Ok(())
        }
    })
    .await;
    Ok(())
}
