//! The `beatline` binary: parses the command line and runs a sub-command.

use std::process::ExitCode;

use beatline_server::config::{Cli, Command, CommonConfig, LogFormat, check_environment};
use beatline_server::{cli, db, demo, seed_problems, start};
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: under load, glibc's malloc took a quarter
/// of the server's CPU time in the list benchmark (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.common);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear line for people; the cause chain follows on the same line.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    check_environment()?;
    match cli.command {
        Command::Serve(serve) => {
            let server = start(&cli.common, &serve, true).await?;
            tracing::info!(
                "Beatline listening on http://{}{}",
                server.addr,
                if serve.graphiql_enabled() {
                    " (GraphiQL at /)"
                } else {
                    ""
                }
            );
            server.wait().await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate => {
            let conn = db::connect(&cli.common, None).await?;
            db::migrate(&conn).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::SeedDemo => {
            let conn = db::connect(&cli.common, None).await?;
            db::migrate(&conn).await?;
            demo::seed_if_empty(&conn).await?;
            Ok(())
        }
        Command::SeedProblems { count } => {
            let conn = db::connect(&cli.common, None).await?;
            db::migrate(&conn).await?;
            seed_problems::seed_problems(&conn, count).await
        }
        Command::PrintSchema => {
            print!("{}", graphql_schema::sdl());
            Ok(())
        }
        Command::CreateAdmin { email, password } => {
            let conn = db::connect(&cli.common, None).await?;
            db::migrate(&conn).await?;
            let user = graphql_schema::domain::accounts::create_admin_cli(&conn, &email, &password)
                .await
                .map_err(graphql_schema::AppError::into_anyhow)?;
            println!(
                "admin account created: {} ({})",
                user.email.unwrap_or_default(),
                user.id
            );
            Ok(())
        }
        Command::ImportBoundaries { file } => cli::import_boundaries(&cli.common, &file).await,
    }
}

fn init_tracing(common: &CommonConfig) {
    let filter = EnvFilter::try_new(&common.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match common.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}
