//! The signed-link hot path against its floor: verifying a link (signature, constant-time
//! compare, strict timestamp parse, expiry) next to a bare md5 of the same bytes.
//! Target: verify ≤ 1.3× the bare md5.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sso_benches::{NOW, demo_link, demo_vendor};
use sso_core::helpdesk::ApiResult;
use sso_core::signed_link::{self, sign::bare_md5};

fn signed_link(c: &mut Criterion) {
    let keys = demo_vendor();
    let link = demo_link();
    let query = format!(
        "email=client%40example.com&vendorid=1001&timestamp={}&token={}",
        link.timestamp, link.token
    );
    let bytes = format!("{}{}vendorpass", "client@example.com", link.timestamp);

    let mut g = c.benchmark_group("signed_link");
    g.bench_function("bare_md5", |b| {
        b.iter(|| bare_md5(black_box(bytes.as_bytes())))
    });
    g.bench_function("verify_with_expiry", |b| {
        b.iter(|| signed_link::check_link(black_box(&link), Some(&keys), black_box(NOW)))
    });
    g.bench_function("parse_and_verify", |b| {
        b.iter(|| {
            let req = signed_link::parse_request(black_box(query.as_bytes()))?;
            signed_link::check_link(&req, Some(&keys), NOW)
        })
    });
    g.finish();
}

fn helpdesk_render(c: &mut Criterion) {
    let r = ApiResult::new()
        .with("token", "7ed5fb6d44d6ac7ea413d2a599358e1b")
        .with("result_code", 1)
        .with("result_message", "User Found.")
        .with("result_output", "serialize");
    let mut g = c.benchmark_group("helpdesk_render");
    g.bench_function("serialize", |b| b.iter(|| black_box(&r).to_php_serialize()));
    g.bench_function("xml", |b| b.iter(|| black_box(&r).to_xml()));
    g.bench_function("json", |b| b.iter(|| black_box(&r).to_json()));
    g.finish();
}

criterion_group!(benches, signed_link, helpdesk_render);
criterion_main!(benches);
