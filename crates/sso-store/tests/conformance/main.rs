//! One conformance suite, two backends: every case runs against the embedded store (in
//! memory) and against the DynamoDB backend talking to a real DynamoDB-compatible server
//! (moto) on loopback, which the suite starts itself. A missing moto is a failure, not a skip.

mod cases;

use std::sync::Arc;

use sso_store::embedded::Embedded;
use sso_store::{SecretBox, Store};

fn secret_box() -> SecretBox {
    SecretBox::new([42; 32])
}

async fn embedded() -> Store {
    Store::new(
        Arc::new(Embedded::in_memory().expect("in-memory store")),
        secret_box(),
    )
}

async fn dynamodb() -> Store {
    let backend = sso_store::testing::fresh_table().await;
    Store::new(Arc::new(backend), secret_box())
}

macro_rules! conformance {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let store = super::$backend().await;
                    super::cases::$case(&store).await;
                }
            )*
        }
    };
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        conformance!(embedded: $($case),*);
        conformance!(dynamodb: $($case),*);
    };
}

both!(
    the_demo_directory_imports_and_reads_back,
    importing_twice_changes_nothing_and_a_bad_file_writes_nothing,
    vendor_secrets_and_passwords_are_never_stored_in_clear,
    a_one_time_token_is_redeemed_exactly_once_by_64_concurrent_redeemers,
    a_bound_token_is_redeemed_only_from_its_address_and_not_burnt_elsewhere,
    a_reusable_token_works_until_it_expires,
    a_new_token_for_the_same_slot_replaces_the_previous_one,
    a_redeemed_token_is_its_session_from_redemption_on,
    a_token_opens_only_the_door_it_was_issued_for,
    replacing_a_redeemed_token_leaves_its_session_alone,
    the_replay_guard_records_exactly_once_under_64_concurrent_records,
    expired_items_are_invisible_before_any_ttl_cleanup,
    sessions_end_by_idle_timeout_unless_touched_and_by_absolute_lifetime,
    revoked_sessions_and_subjects_are_refused,
    a_session_key_can_be_created_only_once,
    the_throttle_locks_after_thirty_failures_and_releases,
    concurrent_failures_are_all_counted,
    at_most_thirty_of_64_concurrent_reservations_pass_and_a_lock_refuses_them,
    audit_events_page_newest_first,
    an_audited_sign_in_stores_its_event_only_when_it_wins,
    an_audited_issue_stores_its_event_with_the_token_slot_or_not,
    audited_redemptions_of_one_token_by_64_at_once_store_one_event_naming_its_subject,
    a_mint_that_fails_midway_never_leaves_two_usable_tokens_in_a_slot,
    an_audit_event_is_in_both_listings_or_in_neither,
    concurrent_links_of_one_group_all_stay,
    unlinking_keeps_concurrent_links_and_an_absent_link_writes_nothing,
    agent_updates_never_undo_each_other_nor_bring_back_a_deleted_agent,
    an_event_that_names_nobody_is_one_small_item_that_expires,
    a_subject_listing_refers_to_the_tenant_listing_and_reads_the_events,
);

mod cost {
    /// Request units per flow on the DynamoDB backend (moto reports consumed capacity), checked
    /// against ARCHITECTURE.md's budget and printed for docs/store.md.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hot_paths_stay_within_the_per_call_budget() {
        let store = super::dynamodb().await;
        super::cases::measure_costs(&store).await;
    }
}
