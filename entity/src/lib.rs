//! Beatline's sea-orm entities: one module per table of `docs/data-model.md`.
//!
//! Entities are plain data: no GraphQL or HTTP concerns live here.

pub mod enums;
pub mod prelude;

/// Table `action_items`: An action agreed on; open actions carry onto later agendas.
pub mod action_item;
/// Table `agenda_items`: An item on a meeting agenda.
pub mod agenda_item;
/// Table `agenda_votes`: A resident's vote for an agenda item (one per meeting).
pub mod agenda_vote;
/// Table `audit_log`: An append-only audit log entry.
pub mod audit_log;
/// Table `beats`: A beat: the smallest patrol area.
pub mod beat;
/// Table `beat_followers`: A resident following a beat.
pub mod beat_follower;
/// Table `captain_precincts`: Assignment of a captain to a precinct.
pub mod captain_precinct;
/// Table `categories`: A problem category (an Open311 service).
pub mod category;
/// Table `devices`: A push-notification device (FCM registration token).
pub mod device;
/// Table `idempotency_keys`: A stored idempotency key with its response.
pub mod idempotency_key;
/// Table `meetings`: A meeting occurrence, standalone or part of a series.
pub mod meeting;
/// Table `meeting_minutes`: Published minutes of a meeting.
pub mod meeting_minutes;
/// Table `meeting_rsvps`: A user's answer to a meeting invitation.
pub mod meeting_rsvp;
/// Table `meeting_series`: A recurring beat meeting (RFC 5545 recurrence).
pub mod meeting_series;
/// Table `neighborhoods`: A neighbourhood on the community map.
pub mod neighborhood;
/// Table `neighborhood_beats`: Which beats overlap a neighbourhood.
pub mod neighborhood_beat;
/// Table `notifications`: A notification in a user's inbox.
pub mod notification;
/// Table `notification_fanouts`: A notice for many people, expanded by the push worker.
pub mod notification_fanout;
/// Table `notification_preferences`: A user's notification preferences.
pub mod notification_preference;
/// Table `officer_beats`: Assignment of an officer to a beat.
pub mod officer_beat;
/// Table `partner_members`: Membership of a user in a partner organisation.
pub mod partner_member;
/// Table `partner_organizations`: A partner organisation (city service, NGO, ...).
pub mod partner_organization;
/// Table `photos`: An uploaded photo (metadata stripped before storage).
pub mod photo;
/// Table `precincts`: A police precinct, led by captains.
pub mod precinct;
/// Table `problems`: A reported neighbourhood problem.
pub mod problem;
/// Table `problem_events`: An entry in a problem's append-only timeline.
pub mod problem_event;
/// Table `problem_followers`: A user following a problem.
pub mod problem_follower;
/// Table `problem_ratings`: Feedback on how a problem was resolved.
pub mod problem_rating;
/// Table `problem_reference_counters`: Per-year counter issuing problem references such as `BL-2026-000123`.
pub mod problem_reference_counter;
/// Table `problem_supporters`: A user supporting ("me too") a problem.
pub mod problem_supporter;
/// Table `push_deliveries`: Outbox entry delivering a notification to a device.
pub mod push_delivery;
/// Table `refresh_tokens`: A refresh token (rotated, with reuse detection per family).
pub mod refresh_token;
/// Table `sara_problems`: A problem linked to a SARA record.
pub mod sara_problem;
/// Table `sara_records`: A SARA problem-solving record for a beat.
pub mod sara_record;
/// Table `sara_stage_changes`: Who moved a SARA record to another stage, and when.
pub mod sara_stage_change;
/// Table `users`: A user account (resident, officer, captain, partner member or admin).
pub mod user;
