//! Parsing and checking the options inside `#[runtime::main(...)]` and
//! `#[runtime::test(...)]`.
//!
//! Parsing is lenient: an option that is wrong is reported and then left out,
//! and the macro goes on with the rest. That way one mistake gives one error,
//! and the function is still expanded (with what was valid) so the user does
//! not also get unrelated errors from the rest of their program.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitBool, LitInt, Meta, MetaNameValue, Token};

/// Which macro is being expanded: it decides the default flavor and the
/// wording of some messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// The attribute as the user writes it, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[runtime::main]",
            Kind::Test => "#[runtime::test]",
        }
    }

    fn default_flavor(self) -> Flavor {
        match self {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}

/// The runtime flavor to build.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    MultiThread,
    CurrentThread,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::MultiThread => "multi_thread",
            Flavor::CurrentThread => "current_thread",
        }
    }
}

/// The checked options, ready for code generation.
pub(crate) struct Options {
    pub(crate) flavor: Flavor,
    /// `worker_threads = N`, as an unsuffixed literal spanned like the
    /// user's. Only ever set with the multi_thread flavor.
    pub(crate) worker_threads: Option<LitInt>,
    /// `start_paused = true|false`. Only ever set with current_thread.
    pub(crate) start_paused: Option<LitBool>,
    /// Path to the runtime crate; `::runtime` unless `crate = "..."`.
    pub(crate) crate_path: syn::Path,
}

const VALID_OPTIONS: &str = "`flavor`, `worker_threads`, `start_paused`, `crate`";
const VALID_FLAVORS: &str = "\"multi_thread\" or \"current_thread\"";

/// One option as written, before the checks that look at several options.
struct Given<T> {
    value: T,
    /// The whole `name = value`, to point at when the option clashes with
    /// another one.
    tokens: TokenStream,
}

#[derive(Default)]
struct Raw {
    flavor: Option<Given<Flavor>>,
    worker_threads: Option<Given<LitInt>>,
    start_paused: Option<Given<LitBool>>,
    crate_path: Option<Given<syn::Path>>,
}

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn push_spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.0
            .map(|error| error.to_compile_error())
            .unwrap_or_default()
    }
}

/// Parses and checks the attribute's arguments. Errors go to `errors`; the
/// returned options hold everything that was valid, defaults for the rest.
pub(crate) fn parse(kind: Kind, args: TokenStream, errors: &mut Errors) -> Options {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(error);
            Punctuated::new()
        }
    };

    let mut raw = Raw::default();
    for meta in metas {
        parse_one(meta, &mut raw, errors);
    }
    check(kind, raw, errors)
}

fn parse_one(meta: Meta, raw: &mut Raw, errors: &mut Errors) {
    let name = match meta.path().get_ident() {
        Some(ident) => ident.to_string(),
        None => {
            let path = meta.path().to_token_stream().to_string().replace(' ', "");
            errors.push_spanned(
                meta.path(),
                format!("unknown option `{path}`; the valid options are {VALID_OPTIONS}"),
            );
            return;
        }
    };
    let slot_taken = match name.as_str() {
        "flavor" => raw.flavor.is_some(),
        "worker_threads" => raw.worker_threads.is_some(),
        "start_paused" => raw.start_paused.is_some(),
        "crate" => raw.crate_path.is_some(),
        _ => {
            errors.push_spanned(
                meta.path(),
                format!("unknown option `{name}`; the valid options are {VALID_OPTIONS}"),
            );
            return;
        }
    };
    if slot_taken {
        errors.push_spanned(
            meta.path(),
            format!("duplicate option `{name}`: each option can be given only once"),
        );
        return;
    }

    let example = example(&name);
    let nv = match meta {
        Meta::NameValue(nv) => nv,
        Meta::Path(path) => {
            errors.push_spanned(path, format!("`{name}` needs a value, like `{example}`"));
            return;
        }
        Meta::List(list) => {
            errors.push_spanned(
                list,
                format!("`{name}` is written `{name} = value`, like `{example}`"),
            );
            return;
        }
    };
    let tokens = nv.to_token_stream();
    let lit = match literal(&nv) {
        Some(lit) => lit,
        None => {
            errors.push_spanned(
                &nv.value,
                format!("`{name}` takes a literal value, like `{example}`"),
            );
            return;
        }
    };

    match name.as_str() {
        "flavor" => {
            if let Some(value) = parse_flavor(lit, errors) {
                raw.flavor = Some(Given { value, tokens });
            }
        }
        "worker_threads" => {
            if let Some(value) = parse_worker_threads(lit, errors) {
                raw.worker_threads = Some(Given { value, tokens });
            }
        }
        "start_paused" => match lit {
            Lit::Bool(value) => {
                raw.start_paused = Some(Given {
                    value: value.clone(),
                    tokens,
                });
            }
            other => errors.push_spanned(
                other,
                format!("`start_paused` must be `true` or `false`, like `{example}`"),
            ),
        },
        "crate" => {
            if let Some(value) = parse_crate_path(lit, errors) {
                raw.crate_path = Some(Given { value, tokens });
            }
        }
        _ => unreachable!("option names were checked above"),
    }
}

fn example(name: &str) -> &'static str {
    match name {
        "flavor" => "flavor = \"current_thread\"",
        "worker_threads" => "worker_threads = 4",
        "start_paused" => "start_paused = true",
        _ => "crate = \"my_reexport::runtime\"",
    }
}

/// The value of `name = value` if it is a literal (possibly inside
/// invisible groups, which macro_rules! expansions produce).
fn literal(nv: &MetaNameValue) -> Option<&Lit> {
    let mut expr = &nv.value;
    loop {
        match expr {
            Expr::Lit(ExprLit { lit, attrs }) if attrs.is_empty() => return Some(lit),
            Expr::Group(group) => expr = &group.expr,
            _ => return None,
        }
    }
}

fn parse_flavor(lit: &Lit, errors: &mut Errors) -> Option<Flavor> {
    let Lit::Str(s) = lit else {
        errors.push_spanned(lit, format!("`flavor` must be a string: {VALID_FLAVORS}"));
        return None;
    };
    match s.value().as_str() {
        "multi_thread" => Some(Flavor::MultiThread),
        "current_thread" => Some(Flavor::CurrentThread),
        other => {
            errors.push_spanned(
                s,
                format!("unknown flavor `{other}`; the valid flavors are {VALID_FLAVORS}"),
            );
            None
        }
    }
}

fn parse_worker_threads(lit: &Lit, errors: &mut Errors) -> Option<LitInt> {
    let Lit::Int(int) = lit else {
        errors.push_spanned(
            lit,
            "`worker_threads` must be an integer of at least 1, like `worker_threads = 4`",
        );
        return None;
    };
    match int.base10_parse::<usize>() {
        Ok(0) => {
            errors.push_spanned(
                int,
                "`worker_threads` must be at least 1 (leave it out for one worker per CPU)",
            );
            None
        }
        // Re-emit without any suffix the user wrote (`2u8`), so the literal
        // is always a `usize` for `Builder::worker_threads`.
        Ok(count) => Some(LitInt::new(&count.to_string(), int.span())),
        Err(error) => {
            errors.push_spanned(
                int,
                format!("`worker_threads` must be a positive integer: {error}"),
            );
            None
        }
    }
}

fn parse_crate_path(lit: &Lit, errors: &mut Errors) -> Option<syn::Path> {
    let Lit::Str(s) = lit else {
        errors.push_spanned(
            lit,
            "`crate` must be a string holding a path, like `crate = \"my_reexport::runtime\"`",
        );
        return None;
    };
    // `LitStr::parse` gives the path's tokens the span of the string, so an
    // unresolved path is reported at the string.
    match s.parse_with(syn::Path::parse_mod_style) {
        Ok(path) => Some(path),
        Err(_) => {
            errors.push_spanned(
                s,
                format!(
                    "`crate` must be a path to the runtime crate, like \"my_reexport::runtime\"; \
                     `{}` is not a path",
                    s.value()
                ),
            );
            None
        }
    }
}

/// The checks that look at several options at once, and the defaults.
fn check(kind: Kind, raw: Raw, errors: &mut Errors) -> Options {
    let flavor = raw
        .flavor
        .as_ref()
        .map_or(kind.default_flavor(), |given| given.value);
    let flavor_note = |needed: Flavor| match &raw.flavor {
        Some(_) => format!("it cannot be used with `flavor = \"{}\"`", flavor.name()),
        None => format!(
            "`{}` uses the {} flavor by default; add `flavor = \"{}\"`",
            kind.attribute(),
            flavor.name(),
            needed.name()
        ),
    };

    let mut worker_threads = None;
    if let Some(given) = raw.worker_threads {
        if flavor == Flavor::MultiThread {
            worker_threads = Some(given.value);
        } else {
            errors.push_spanned(
                &given.tokens,
                format!(
                    "`worker_threads` needs the multi_thread flavor (current_thread runs every \
                     task on the calling thread): {}",
                    flavor_note(Flavor::MultiThread)
                ),
            );
        }
    }

    let mut start_paused = None;
    if let Some(given) = raw.start_paused {
        if flavor == Flavor::CurrentThread {
            start_paused = Some(given.value);
        } else {
            errors.push_spanned(
                &given.tokens,
                format!(
                    "`start_paused` needs the current_thread flavor: {}",
                    flavor_note(Flavor::CurrentThread)
                ),
            );
        }
    }

    let crate_path = raw.crate_path.map_or_else(
        || syn::parse_quote_spanned!(Span::call_site()=> ::runtime),
        |given| given.value,
    );

    Options {
        flavor,
        worker_threads,
        start_paused,
        crate_path,
    }
}
