//! The `keepup` command.

use anyhow::Result;
use clap::{Parser, Subcommand};
use keepup_config::{LoadOptions, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "keepup",
    version,
    about = "VRRP high availability that reads keepalived.conf"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read a keepalived.conf and report every problem found.
    ///
    /// Exit status: 0 clean (notes allowed), 1 keepup would run but there are warnings or
    /// errors, 2 keepup would refuse to run this configuration.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    file: PathBuf,
    /// Config id that `@ID` lines are matched against (default: the host name up to its
    /// first dot).
    #[arg(short = 'i', long = "config-id")]
    config_id: Option<String>,
    /// Print diagnostics as JSON.
    #[arg(long)]
    json: bool,
    /// Print the resolved configuration model as JSON.
    #[arg(long)]
    dump: bool,
    /// Do not check that interfaces named in the configuration exist on this host.
    #[arg(long)]
    no_interface_check: bool,
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let mut opts = LoadOptions::for_this_host();
    if let Some(id) = args.config_id {
        opts.preprocess.config_id = id;
    }
    if args.no_interface_check {
        opts.interfaces = None;
    }
    let loaded = keepup_config::load_file(&args.file, &opts);
    let verdict = loaded.verdict();
    if args.json {
        let mut v = loaded.diagnostics_json();
        if args.dump {
            v["config"] = serde_json::to_value(&loaded.config)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        eprint!("{}", loaded.render());
        if args.dump && verdict != Verdict::Refused {
            println!("{}", serde_json::to_string_pretty(&loaded.config)?);
        }
    }
    Ok(ExitCode::from(verdict.exit_code() as u8))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Check(a) => check(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keepup: {e:#}");
            ExitCode::from(2)
        }
    }
}
