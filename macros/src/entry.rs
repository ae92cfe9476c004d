//! Turning `async fn` into a function that builds a runtime and blocks on
//! the body.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::punctuated::Punctuated;
use syn::{Attribute, Generics, ItemFn, Signature, Token};

use crate::options::{self, Errors, Flavor, Kind, Options};

/// Expands `#[runtime::main]` (`kind == Main`) or `#[runtime::test]`.
///
/// On misuse the output holds the errors and, next to them, the function
/// expanded as well as possible (with the options that were valid), so the
/// user sees the mistake and not a cascade such as "`main` function not
/// found" or "`main` cannot be `async`".
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            errors.push(syn::Error::new(
                error.span(),
                format!("`{}` can only be used on an `async fn`", kind.attribute()),
            ));
            // Not a function: give the item back untouched.
            let errors = errors.into_compile_errors();
            return quote! { #errors #item };
        }
    };
    let options = options::parse(kind, args, &mut errors);

    if function.sig.asyncness.is_none() {
        errors.push_spanned(
            function.sig.fn_token,
            format!(
                "`{}` needs an `async fn`: write `async fn`",
                kind.attribute()
            ),
        );
    }
    let has_arguments = !function.sig.inputs.is_empty() || function.sig.variadic.is_some();
    if has_arguments {
        let arguments = function
            .sig
            .inputs
            .to_token_stream()
            .into_iter()
            .chain(function.sig.variadic.to_token_stream())
            .collect::<TokenStream>();
        let what = match kind {
            Kind::Main => "the `main` function",
            Kind::Test => "a test function",
        };
        errors.push_spanned(
            arguments,
            format!(
                "{what} cannot take arguments: `{}` calls it with none",
                kind.attribute()
            ),
        );
    }
    if kind == Kind::Test {
        remove_redundant_test_attributes(&mut function.attrs, &mut errors);
    }

    let function = expand_function(kind, function, &options, has_arguments);
    let errors = errors.into_compile_errors();
    quote! { #errors #function }
}

/// Reports and removes `#[test]` written next to `#[runtime::test]`: the
/// macro adds `#[test]` itself, and two of them would make the harness run
/// the test twice (or not compile).
fn remove_redundant_test_attributes(attrs: &mut Vec<Attribute>, errors: &mut Errors) {
    attrs.retain(|attr| {
        let segments = &attr.path().segments;
        let is_test = segments.last().is_some_and(|last| last.ident == "test")
            && (segments.len() == 1
                || segments
                    .first()
                    .is_some_and(|first| first.ident == "core" || first.ident == "std"));
        if is_test {
            errors.push_spanned(
                attr,
                "this `#[test]` is redundant: `#[runtime::test]` already marks the function as a \
                 test; remove it",
            );
        }
        !is_test
    });
}

fn expand_function(
    kind: Kind,
    mut function: ItemFn,
    options: &Options,
    has_arguments: bool,
) -> TokenStream {
    let attrs = &function.attrs;
    let vis = &function.vis;
    let block = &function.block;
    function.sig.asyncness = None;

    let test_attr = match kind {
        Kind::Main => TokenStream::new(),
        Kind::Test => quote! { #[::core::prelude::v1::test] },
    };

    if has_arguments {
        // Already reported. Keep the name and the attributes so nothing else
        // breaks, but leave the body out: it would only add errors about the
        // arguments it uses.
        function.sig.inputs.clear();
        function.sig.variadic = None;
        let sig = &function.sig;
        return quote! {
            #test_attr
            #(#attrs)*
            #vis #sig {
                ::core::panic!("this entry point failed to compile: it takes arguments")
            }
        };
    }

    let sig = &function.sig;
    // The body becomes a nested `async fn` with the user's return type (and
    // the user's tokens for `fn`, `()` and `-> Type`). The compiler checks it
    // exactly as it checks any `async fn`: a type mismatch is reported at the
    // offending expression in the body, with "expected because of return
    // type" pointing at the user's signature, and `?` needs no annotations.
    // (An `async` block's output would only be compared with the return type
    // at the `block_on` call, and an `async` closure's mismatch is reported
    // on the whole body.) Item names are not hygienic, hence the long name.
    let inner_name = Ident::new("__runtime_entry_body", Span::call_site());
    let inner_sig = Signature {
        constness: None,
        asyncness: Some(Token![async](sig.fn_token.span)),
        unsafety: sig.unsafety,
        abi: None,
        fn_token: sig.fn_token,
        ident: inner_name.clone(),
        generics: Generics::default(),
        paren_token: sig.paren_token,
        inputs: Punctuated::new(),
        variadic: None,
        output: sig.output.clone(),
    };
    let call = match sig.unsafety {
        // Only reachable through `async unsafe fn`, whose body may do
        // unsafe things; the outer `unsafe fn` makes the call sound for the
        // same reasons the original function's callers had to.
        Some(unsafety) => quote! { #unsafety { #inner_name() } },
        None => quote! { #inner_name() },
    };
    // Mixed-site hygiene: the user's code cannot see or clash with this
    // local.
    let body = Ident::new("body", Span::mixed_site());

    let crate_path = &options.crate_path;
    let builder = match options.flavor {
        Flavor::MultiThread => quote! { new_multi_thread },
        Flavor::CurrentThread => quote! { new_current_thread },
    };
    // Setters are spanned at the option, so an error about them (for
    // instance a runtime without `start_paused`) points at what the user
    // wrote.
    let worker_threads = options
        .worker_threads
        .as_ref()
        .map(|count| quote_spanned! { count.span()=> .worker_threads(#count) });
    let start_paused = options
        .start_paused
        .as_ref()
        .filter(|paused| paused.value)
        .map(|paused| quote_spanned! { paused.span()=> .start_paused(#paused) });

    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            // The user decides whether the function is `async`; a body
            // without `.await` is fine.
            #[allow(clippy::unused_async)]
            #inner_sig #block
            let #body = #call;
            #crate_path::Builder::#builder()
                #worker_threads
                #start_paused
                .build()
                .expect("failed to build the runtime")
                .block_on(#body)
        }
    }
}
