//! The demo city: two precincts, eight beats with real polygon boundaries, three
//! neighbourhoods, staff and residents, about 200 problems in every state, and the
//! coming beat meetings. Loaded into an empty database by `seed-demo` or `serve --demo`,
//! so that a new user can open GraphiQL and query at once.
//!
//! Everything is generated from a fixed seed, so every run builds the same city.

use anyhow::Context as _;
use argon2::password_hash::{PasswordHasher, SaltString};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use entity::enums::{
    CategoryRoute, MeetingStatus, Priority, ProblemEventKind, ProblemStatus, UserRole, Visibility,
};
use entity::{
    beat, captain_precinct, category, meeting, meeting_series, neighborhood, neighborhood_beat,
    officer_beat, partner_member, partner_organization, precinct, problem, problem_event,
    problem_follower, problem_reference_counter, user,
};
use graphql_schema::domain::geo_index::AreaIndex;
use graphql_schema::domain::inputs::LatLon;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{
    ActiveModelTrait as _, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

/// The demo city's boundaries; also a sample input for `import-boundaries`.
pub const CITY_GEOJSON: &str = include_str!("../demo/city.geojson");

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "beatline-demo";

/// The city's time zone.
const TIME_ZONE: &str = "America/Chicago";

/// How many problems the demo city has.
const PROBLEMS: usize = 200;

/// A demo login to print.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// What the account is for.
    pub role: &'static str,
    /// Its email.
    pub email: String,
}

/// Loads the demo city unless the database already holds precincts; prints the logins
/// either way.
pub async fn seed_if_empty(db: &DatabaseConnection) -> anyhow::Result<()> {
    let existing = precinct::Entity::find().count(db).await?;
    if existing == 0 {
        seed(db).await.context("cannot load the demo city")?;
        tracing::info!("demo city loaded");
    } else {
        tracing::info!("the database already holds a city; demo data not loaded again");
    }
    print_logins();
    Ok(())
}

/// The demo logins, one per role.
pub fn logins() -> Vec<DemoLogin> {
    vec![
        DemoLogin {
            role: "admin",
            email: "admin@demo.beatline.city".into(),
        },
        DemoLogin {
            role: "captain (Westside, beats 1011-1014)",
            email: "captain.west@demo.beatline.city".into(),
        },
        DemoLogin {
            role: "officer (beat 1011)",
            email: "officer.1011@demo.beatline.city".into(),
        },
        DemoLogin {
            role: "partner (Health Department)",
            email: "outreach@health.demo.beatline.city".into(),
        },
        DemoLogin {
            role: "resident",
            email: "resident1@demo.beatline.city".into(),
        },
    ]
}

fn print_logins() {
    let mut text = format!("Demo logins (password for all: {DEMO_PASSWORD}):\n");
    for login in logins() {
        text.push_str(&format!("  {:<40} {}\n", login.email, login.role));
    }
    // Printed, not logged: a new user reads it at the top of the terminal.
    println!("{text}");
}

/// A deterministic time-ordered id for a row created at `at`.
fn id_at(rng: &mut ChaCha8Rng, at: DateTime<Utc>) -> Uuid {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    let mut bytes = *Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, 0)).as_bytes();
    // Randomness from the seeded generator, so ids repeat from run to run.
    rng.fill(&mut bytes[8..]);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

struct Feature {
    kind: String,
    props: serde_json::Map<String, serde_json::Value>,
    geometry: String,
}

fn features() -> anyhow::Result<Vec<Feature>> {
    let collection: geojson::FeatureCollection =
        CITY_GEOJSON.parse().context("demo city GeoJSON")?;
    collection
        .features
        .into_iter()
        .map(|f| {
            let props = f.properties.unwrap_or_default();
            let kind = props
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_owned();
            let geometry = f.geometry.context("a demo feature has no geometry")?;
            Ok(Feature {
                kind,
                props,
                geometry: geometry.to_string(),
            })
        })
        .collect()
}

fn prop(props: &serde_json::Map<String, serde_json::Value>, key: &str) -> String {
    props
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

struct CategorySpec {
    code: &'static str,
    name: &'static str,
    description: &'static str,
    partner: Option<usize>,
    sla_hours: i32,
    sensitive: bool,
    behavior: bool,
    titles: &'static [&'static str],
}

const CATEGORIES: &[CategorySpec] = &[
    CategorySpec {
        code: "STREETLIGHT_OUT",
        name: "Streetlight out",
        description: "A streetlight that is dark or flickering.",
        partner: Some(1),
        sla_hours: 72,
        sensitive: false,
        behavior: false,
        titles: &[
            "Streetlight out on the corner",
            "Two lights dark by the bus stop",
            "Alley light flickering all night",
        ],
    },
    CategorySpec {
        code: "ABANDONED_VEHICLE",
        name: "Abandoned vehicle",
        description: "A vehicle parked for days without moving, damaged or without plates.",
        partner: None,
        sla_hours: 168,
        sensitive: false,
        behavior: false,
        titles: &[
            "Car without plates for two weeks",
            "Burnt-out van in the lot",
            "Truck with flat tyres blocking the alley",
        ],
    },
    CategorySpec {
        code: "DRUG_ACTIVITY",
        name: "Open-air drug dealing",
        description: "Repeated hand-to-hand sales at a place.",
        partner: None,
        sla_hours: 72,
        sensitive: false,
        behavior: false,
        titles: &[
            "Hand-to-hand sales by the vacant lot",
            "Dealing at the bus shelter every evening",
        ],
    },
    CategorySpec {
        code: "GRAFFITI",
        name: "Graffiti",
        description: "Graffiti on public or private property.",
        partner: Some(1),
        sla_hours: 168,
        sensitive: false,
        behavior: false,
        titles: &["Tags on the underpass", "Graffiti on the school fence"],
    },
    CategorySpec {
        code: "ILLEGAL_DUMPING",
        name: "Illegal dumping",
        description: "Rubbish, furniture or tyres dumped on the street or in a lot.",
        partner: Some(1),
        sla_hours: 120,
        sensitive: false,
        behavior: false,
        titles: &[
            "Mattresses dumped in the alley",
            "Tyres piled by the rail bridge",
        ],
    },
    CategorySpec {
        code: "NOISE",
        name: "Noise disturbance",
        description: "Loud noise late at night, repeatedly.",
        partner: None,
        sla_hours: 24,
        sensitive: false,
        behavior: false,
        titles: &["Loud music after midnight", "Car alarms every night"],
    },
    CategorySpec {
        code: "SUSPICIOUS_PERSON",
        name: "Suspicious activity",
        description: "Describe what the person is doing (behaviour), never what they look like.",
        partner: None,
        sla_hours: 24,
        sensitive: false,
        behavior: true,
        titles: &["Someone trying car door handles along the street"],
    },
    CategorySpec {
        code: "SYRINGE_FOUND",
        name: "Syringe found",
        description: "Used needles or syringes in a public place. Do not touch them.",
        partner: Some(0),
        sla_hours: 24,
        sensitive: true,
        behavior: false,
        titles: &["Syringes by the playground", "Needles in the park planter"],
    },
    CategorySpec {
        code: "OVERDOSE_CONCERN",
        name: "Overdose concern",
        description: "A place where overdoses keep happening. In an emergency call 911.",
        partner: Some(0),
        sla_hours: 8,
        sensitive: true,
        behavior: false,
        titles: &["Repeated overdoses near the underpass"],
    },
    CategorySpec {
        code: "PERSON_IN_CRISIS",
        name: "Person in crisis",
        description: "Someone who needs outreach: mental-health or housing crisis. In an emergency call 911.",
        partner: Some(0),
        sla_hours: 4,
        sensitive: true,
        behavior: false,
        titles: &[
            "Man sleeping in the doorway in the cold",
            "Woman in distress at the station",
        ],
    },
];

const STREETS: &[&str] = &[
    "Maple Ave",
    "Foundry St",
    "Harbor Rd",
    "Linden St",
    "Market St",
    "Rail Way",
    "Mill Creek Dr",
    "Cathedral Pl",
    "Lakeview Ter",
    "Union St",
];

async fn seed(db: &DatabaseConnection) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let now = Utc::now();
    let t0 = now - Duration::days(400);
    let txn = db.begin().await?;

    // Geography.
    let mut precinct_ids = std::collections::HashMap::new();
    let mut beats: Vec<beat::Model> = Vec::new();
    let mut neighborhoods: Vec<(neighborhood::Model, Vec<String>)> = Vec::new();
    let all = features()?;
    for f in all.iter().filter(|f| f.kind == "precinct") {
        let row = precinct::Model {
            id: id_at(&mut rng, t0),
            code: prop(&f.props, "code"),
            name: prop(&f.props, "name"),
            boundary: Some(f.geometry.clone()),
            created_at: t0,
            updated_at: t0,
        };
        precinct_ids.insert(row.code.clone(), row.id);
        row.into_active_model().insert(&txn).await?;
    }
    for f in all.iter().filter(|f| f.kind == "beat") {
        let precinct_id = *precinct_ids
            .get(&prop(&f.props, "precinct"))
            .context("beat without precinct")?;
        beats.push(beat::Model {
            id: id_at(&mut rng, t0),
            precinct_id,
            code: prop(&f.props, "code"),
            name: prop(&f.props, "name"),
            boundary: f.geometry.clone(),
            created_at: t0,
            updated_at: t0,
        });
    }
    beat::Entity::insert_many(
        beats
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;
    for f in all.iter().filter(|f| f.kind == "neighborhood") {
        let codes = f
            .props
            .get("beats")
            .and_then(|b| b.as_array())
            .cloned()
            .unwrap_or_default();
        let row = neighborhood::Model {
            id: id_at(&mut rng, t0),
            name: prop(&f.props, "name"),
            boundary: Some(f.geometry.clone()),
            population: f
                .props
                .get("population")
                .and_then(|p| p.as_i64())
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(0),
            created_at: t0,
            updated_at: t0,
        };
        neighborhoods.push((
            row,
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect(),
        ));
    }
    neighborhood::Entity::insert_many(
        neighborhoods
            .iter()
            .map(|(n, _)| n.clone().into_active_model()),
    )
    .exec(&txn)
    .await?;
    let links: Vec<neighborhood_beat::ActiveModel> = neighborhoods
        .iter()
        .flat_map(|(n, codes)| {
            beats
                .iter()
                .filter(|b| codes.contains(&b.code))
                .map(|b| {
                    neighborhood_beat::Model {
                        neighborhood_id: n.id,
                        beat_id: b.id,
                    }
                    .into_active_model()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    neighborhood_beat::Entity::insert_many(links)
        .exec(&txn)
        .await?;

    // Partner organisations and categories.
    let partners: Vec<partner_organization::Model> = [
        (
            "Harbor City Health Department",
            "Public health: syringe pick-up, overdose prevention, crisis outreach.",
            "outreach@health.demo.beatline.city",
        ),
        (
            "Streets and Sanitation",
            "Streetlights, graffiti removal, dumping clean-up.",
            "dispatch@streets.demo.beatline.city",
        ),
    ]
    .into_iter()
    .map(|(name, description, email)| partner_organization::Model {
        id: id_at(&mut rng, t0),
        name: name.into(),
        description: description.into(),
        contact_email: Some(email.into()),
        created_at: t0,
        updated_at: t0,
    })
    .collect();
    partner_organization::Entity::insert_many(
        partners
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;
    let categories: Vec<category::Model> = CATEGORIES
        .iter()
        .map(|c| category::Model {
            id: id_at(&mut rng, t0),
            service_code: c.code.into(),
            name: c.name.into(),
            description: c.description.into(),
            route: if c.partner.is_some() {
                CategoryRoute::Partner
            } else {
                CategoryRoute::Police
            },
            partner_id: c.partner.and_then(|i| partners.get(i)).map(|p| p.id),
            sla_hours: c.sla_hours,
            sensitive: c.sensitive,
            duplicate_radius_m: 150,
            requires_behavior_description: c.behavior,
            active: true,
            created_at: t0,
            updated_at: t0,
        })
        .collect();
    category::Entity::insert_many(
        categories
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;

    // People. One hash for every demo account: they share the demo password.
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(DEMO_PASSWORD.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the demo password: {e}"))?
        .to_string();
    let mut users: Vec<user::Model> = Vec::new();
    let mut person =
        |role: UserRole, name: String, email: String, home: Option<Uuid>, rng: &mut ChaCha8Rng| {
            let row = user::Model {
                id: id_at(rng, t0),
                role,
                display_name: name,
                email: Some(email),
                phone: None,
                password_hash: Some(hash.clone()),
                locale: "en".into(),
                time_zone: TIME_ZONE.into(),
                home_neighborhood_id: home,
                created_at: t0,
                updated_at: t0,
                deleted_at: None,
            };
            users.push(row.clone());
            row
        };
    person(
        UserRole::Admin,
        "City Administrator".into(),
        "admin@demo.beatline.city".into(),
        None,
        &mut rng,
    );
    let captain_west = person(
        UserRole::Captain,
        "Capt. Dana Reyes".into(),
        "captain.west@demo.beatline.city".into(),
        None,
        &mut rng,
    );
    let captain_east = person(
        UserRole::Captain,
        "Capt. Sam Okafor".into(),
        "captain.east@demo.beatline.city".into(),
        None,
        &mut rng,
    );
    let mut officers = std::collections::HashMap::new();
    let surnames = [
        "Nguyen",
        "Kowalski",
        "Haddad",
        "Brennan",
        "Alvarez",
        "Mensah",
        "Lindqvist",
        "Park",
    ];
    for (b, surname) in beats.iter().zip(surnames) {
        let o = person(
            UserRole::Officer,
            format!("Officer {surname}"),
            format!("officer.{}@demo.beatline.city", b.code),
            None,
            &mut rng,
        );
        officers.insert(b.id, o.id);
    }
    let health = person(
        UserRole::Partner,
        "Health Dept. Outreach".into(),
        "outreach@health.demo.beatline.city".into(),
        None,
        &mut rng,
    );
    let streets = person(
        UserRole::Partner,
        "Streets Dispatch".into(),
        "dispatch@streets.demo.beatline.city".into(),
        None,
        &mut rng,
    );
    let first_names = [
        "Alex", "Maria", "Jamal", "Priya", "Tomasz", "Grace", "Luis", "Aisha", "Ben", "Mei",
        "Omar", "Sofia", "Kwame", "Hannah", "Diego", "Fatima", "Ivan", "Chloe", "Noah", "Zainab",
    ];
    let mut residents = Vec::new();
    for (i, first) in first_names.iter().enumerate() {
        let home = neighborhoods
            .get(i % neighborhoods.len())
            .map(|(n, _)| n.id);
        let initial = char::from(b'A' + u8::try_from(i % 26).unwrap_or(0));
        residents.push(person(
            UserRole::Resident,
            format!("{first} {initial}."),
            format!("resident{}@demo.beatline.city", i + 1),
            home,
            &mut rng,
        ));
    }
    user::Entity::insert_many(users.into_iter().map(IntoActiveModel::into_active_model))
        .exec(&txn)
        .await?;
    officer_beat::Entity::insert_many(officers.iter().map(|(beat_id, officer_id)| {
        officer_beat::Model {
            officer_id: *officer_id,
            beat_id: *beat_id,
            created_at: t0,
        }
        .into_active_model()
    }))
    .exec(&txn)
    .await?;
    captain_precinct::Entity::insert_many(
        [("P1", captain_west.id), ("P2", captain_east.id)]
            .into_iter()
            .filter_map(|(code, captain_id)| {
                precinct_ids.get(code).map(|precinct_id| {
                    captain_precinct::Model {
                        captain_id,
                        precinct_id: *precinct_id,
                        created_at: t0,
                    }
                    .into_active_model()
                })
            }),
    )
    .exec(&txn)
    .await?;
    partner_member::Entity::insert_many([(0, health.id), (1, streets.id)].into_iter().filter_map(
        |(i, user_id)| {
            partners.get(i).map(|p| {
                partner_member::Model {
                    partner_id: p.id,
                    user_id,
                    created_at: t0,
                }
                .into_active_model()
            })
        },
    ))
    .exec(&txn)
    .await?;

    // Problems.
    let beat_index = AreaIndex::build(beats.iter().map(|b| (b.id, Some(b.boundary.clone()))));
    let nb_index = AreaIndex::build(
        neighborhoods
            .iter()
            .map(|(n, _)| (n.id, n.boundary.clone())),
    );
    let mut problems = Vec::new();
    let mut events = Vec::new();
    let mut followers = Vec::new();
    while problems.len() < PROBLEMS {
        let lat = 41.8005 + rng.random::<f64>() * 0.0240;
        let lon = -87.6995 + rng.random::<f64>() * 0.0590;
        let at = LatLon::parse(lat, lon).map_err(|e| anyhow::anyhow!(e.message()))?;
        let Some(beat_id) = beat_index.find(at) else {
            continue;
        };
        let spec_index = rng.random_range(0..CATEGORIES.len());
        let (Some(spec), Some(cat)) = (CATEGORIES.get(spec_index), categories.get(spec_index))
        else {
            continue;
        };
        let age_minutes = rng.random_range(30..(90 * 24 * 60));
        let created_at = now - Duration::minutes(age_minutes);
        let status = match rng.random_range(0..100) {
            0..30 => ProblemStatus::New,
            30..45 => ProblemStatus::Acknowledged,
            45..65 => ProblemStatus::InProgress,
            65..82 => ProblemStatus::Resolved,
            82..92 => ProblemStatus::Closed,
            92..96 => ProblemStatus::Duplicate,
            _ => ProblemStatus::NotActionable,
        };
        let acknowledged_at = (status != ProblemStatus::New).then(|| {
            created_at
                + Duration::minutes(rng.random_range(10..(48 * 60)).min(age_minutes.max(11) - 1))
        });
        let resolved_at = matches!(status, ProblemStatus::Resolved | ProblemStatus::Closed)
            .then(|| {
                acknowledged_at.unwrap_or(created_at)
                    + Duration::minutes(rng.random_range(60..(10 * 24 * 60)))
            })
            .map(|t| t.min(now));
        let closed_at = (status == ProblemStatus::Closed).then(|| resolved_at.unwrap_or(now));
        let reporter = residents
            .get(rng.random_range(0..residents.len()))
            .map(|r| r.id);
        let id = id_at(&mut rng, created_at);
        let title = spec
            .titles
            .get(rng.random_range(0..spec.titles.len()))
            .copied()
            .unwrap_or(spec.name);
        let street = STREETS
            .get(rng.random_range(0..STREETS.len()))
            .copied()
            .unwrap_or("Main St");
        let updated_at = [Some(created_at), acknowledged_at, resolved_at, closed_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(created_at);
        problems.push(problem::Model {
            id,
            reference: String::new(),
            category_id: cat.id,
            title: title.into(),
            description: format!("{title}. Reported by a neighbour through the Beatline app."),
            lat,
            lon,
            address: Some(format!("{} {street}", rng.random_range(100..4000))),
            beat_id,
            neighborhood_id: nb_index.find(at),
            status,
            priority: match rng.random_range(0..10) {
                0 => Priority::Low,
                1..7 => Priority::Normal,
                7..9 => Priority::High,
                _ => Priority::Urgent,
            },
            reporter_id: reporter,
            anonymous: rng.random_range(0..5) == 0,
            assigned_officer_id: if cat.partner_id.is_none() && status != ProblemStatus::New {
                officers.get(&beat_id).copied()
            } else {
                None
            },
            assigned_partner_id: cat.partner_id,
            due_at: Some(created_at + Duration::hours(i64::from(cat.sla_hours))),
            duplicate_of_id: None,
            support_count: rng.random_range(0..25),
            version: 1
                + i32::from(acknowledged_at.is_some())
                + i32::from(resolved_at.is_some())
                + i32::from(closed_at.is_some()),
            created_at,
            updated_at,
            acknowledged_at,
            resolved_at,
            closed_at,
        });
        events.push(problem_event::Model {
            id: id_at(&mut rng, created_at),
            problem_id: id,
            actor_id: reporter,
            kind: ProblemEventKind::Created,
            from_status: None,
            to_status: Some(ProblemStatus::New),
            body: None,
            visibility: Visibility::Public,
            data: None,
            created_at,
        });
        let mut last = ProblemStatus::New;
        let actor = if cat.partner_id.is_some() {
            None
        } else {
            officers.get(&beat_id).copied()
        };
        for (to, when) in [
            (ProblemStatus::Acknowledged, acknowledged_at),
            (
                if matches!(status, ProblemStatus::Resolved | ProblemStatus::Closed) {
                    ProblemStatus::Resolved
                } else {
                    status
                },
                resolved_at
                    .or(acknowledged_at.filter(|_| !matches!(status, ProblemStatus::Acknowledged))),
            ),
            (ProblemStatus::Closed, closed_at),
        ] {
            let Some(when) = when else { continue };
            if to == last || to == ProblemStatus::New {
                continue;
            }
            events.push(problem_event::Model {
                id: id_at(&mut rng, when),
                problem_id: id,
                actor_id: actor,
                kind: ProblemEventKind::StatusChanged,
                from_status: Some(last),
                to_status: Some(to),
                body: None,
                visibility: Visibility::Public,
                data: None,
                created_at: when,
            });
            last = to;
        }
        if let Some(reporter) = reporter {
            followers.push(problem_follower::Model {
                problem_id: id,
                user_id: reporter,
                created_at,
            });
        }
    }
    // References count up in the order problems were reported, per year.
    problems.sort_by_key(|p| (p.created_at, p.id));
    let mut counters: std::collections::BTreeMap<i32, i64> = std::collections::BTreeMap::new();
    for p in &mut problems {
        let year = p.created_at.year();
        let n = counters.entry(year).or_default();
        *n += 1;
        p.reference = format!("BL-{year}-{n:06}");
    }
    for chunk in problems.chunks(100) {
        problem::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec(&txn)
        .await?;
    }
    for chunk in events.chunks(200) {
        problem_event::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec(&txn)
        .await?;
    }
    problem_follower::Entity::insert_many(
        followers
            .into_iter()
            .map(IntoActiveModel::into_active_model),
    )
    .exec(&txn)
    .await?;
    problem_reference_counter::Entity::insert_many(counters.into_iter().map(
        |(year, last_value)| {
            problem_reference_counter::Model { year, last_value }.into_active_model()
        },
    ))
    .exec(&txn)
    .await?;

    // Beat meetings: the second Tuesday of every month, 6:30 pm, at the district hall.
    let tz: chrono_tz::Tz = TIME_ZONE.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, b) in beats.iter().enumerate() {
        let first = next_second_tuesdays(now, &tz, 3);
        let Some(first_start) = first.first().copied() else {
            continue;
        };
        let series = meeting_series::Model {
            id: id_at(&mut rng, now),
            beat_id: b.id,
            title: format!("Beat {} community meeting", b.code),
            rrule: "FREQ=MONTHLY;BYDAY=2TU".into(),
            first_starts_at: first_start,
            duration_minutes: 90,
            time_zone: TIME_ZONE.into(),
            place_name: Some(format!("{} Community Hall", b.name)),
            place_address: Some(format!(
                "{} {}",
                100 + i * 10,
                STREETS.get(i).copied().unwrap_or("Main St")
            )),
            lat: None,
            lon: None,
            online_url: (i % 2 == 0)
                .then(|| format!("https://meet.demo.beatline.city/beat-{}", b.code)),
            languages: json!(["en", "es"]),
            accessibility_notes: Some("Step-free entrance; ASL interpretation on request.".into()),
            created_by: officers.get(&b.id).copied(),
            created_at: now,
            updated_at: now,
        };
        series.clone().into_active_model().insert(&txn).await?;
        for start in first {
            meeting::Model {
                id: id_at(&mut rng, now),
                series_id: Some(series.id),
                beat_id: b.id,
                title: series.title.clone(),
                starts_at: start,
                ends_at: start + Duration::minutes(90),
                time_zone: TIME_ZONE.into(),
                place_name: series.place_name.clone(),
                place_address: series.place_address.clone(),
                lat: None,
                lon: None,
                online_url: series.online_url.clone(),
                languages: json!(["en", "es"]),
                accessibility_notes: series.accessibility_notes.clone(),
                status: MeetingStatus::Scheduled,
                recurrence_id: Some(start),
                is_exception: false,
                attendance_residents: None,
                attendance_officers: None,
                reminder_sent_at: None,
                version: 1,
                created_by: series.created_by,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// The next `count` second Tuesdays at 18:30 local time, after `now`.
fn next_second_tuesdays(
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    count: usize,
) -> Vec<DateTime<Utc>> {
    let local_now = now.with_timezone(tz).date_naive();
    let (mut year, mut month) = (local_now.year(), local_now.month());
    let mut out = Vec::new();
    while out.len() < count {
        if let Some(day) = NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Tue, 2)
            && let Some(start) = day.and_hms_opt(18, 30, 0)
            && let Some(start) = tz.from_local_datetime(&start).earliest()
        {
            let start = start.with_timezone(&Utc);
            if start > now {
                out.push(start);
            }
        }
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    out
}
