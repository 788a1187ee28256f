//! The server-rendered pages people use: sign-up, sign-in, two-factor, password reset, account
//! security, records and their health data, authorised apps and the OAuth consent page. HTML
//! from askama templates (`templates/`, auto-escaped) in one layout, one style sheet, no scripts.
//!
//! - [`headers`]: the security headers of every response.
//! - [`session`]: the session cookie, the signed-in person, CSRF tokens, the client address.
//! - [`form`]: submitted forms. [`render`]: pages, messages, errors for people.
//! - [`signup`], [`signin`], [`password`], [`account`]: signing up, in and out, resets, security.
//! - [`records`], [`record`], [`apps`]: records, one record's settings, its authorised apps.
//! - [`record_nav`]: the sub-navigation of a record's pages and what each loads first.
//! - [`home`]: a record's home. [`data`]: its data types and one type's chart and table
//!   ([`chart`], [`series`]). [`entry`]: adding, editing, deleting, restoring items.
//!   [`item`]: one item, its envelope, origin and versions. [`files`]: upload, download,
//!   previews. [`profile`]: demographics, emergency contacts, blood type, picture.
//!   [`describe`]: an item in a line.
//! - [`sharing`], [`invitation`]: sharing a record with people, and answering an invitation.
//! - [`history`]: the record's history of changes.
//! - [`emergency`], [`wallet_card`]: emergency profile, codes, the wallet card PDF, and the
//!   public emergency page.
//! - [`consent`]: `GET`/`POST /oauth/authorize`. [`assets`]: the style sheet.
//!
//! Every POST form carries a `csrf` field; see [`session`].

pub mod account;
pub mod apps;
pub mod assets;
pub mod chart;
pub mod consent;
pub mod data;
pub mod describe;
pub mod emergency;
pub mod entry;
pub mod files;
pub mod form;
pub mod headers;
pub mod history;
pub mod home;
pub mod invitation;
pub mod item;
pub mod password;
pub mod profile;
pub mod record;
pub mod record_nav;
pub mod records;
pub mod render;
pub mod series;
pub mod session;
pub mod sharing;
pub mod signin;
pub mod signup;
pub mod wallet_card;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::root))
        .route("/static/hearth.css", get(assets::css))
        .route("/sign-up", get(signup::show).post(signup::submit))
        .route("/verify-email", get(signup::verify))
        .route("/sign-in", get(signin::show).post(signin::submit))
        .route(
            "/sign-in/two-factor",
            get(signin::show_two_factor).post(signin::submit_two_factor),
        )
        .route("/sign-out", post(signin::sign_out))
        .route(
            "/forgot-password",
            get(password::show_forgot).post(password::submit_forgot),
        )
        .route(
            "/reset-password",
            get(password::show_reset).post(password::submit_reset),
        )
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/two-factor/begin", post(account::begin_two_factor))
        .route("/account/two-factor/enable", post(account::enable_two_factor))
        .route("/account/two-factor/disable", post(account::disable_two_factor))
        .route("/account/sign-out-everywhere", post(signin::sign_out_everywhere))
        .route("/records", get(records::list).post(records::create))
        .route("/records/{id}", get(home::show))
        .route("/records/{id}/settings", get(record::show))
        .route("/records/{id}/data", get(data::types))
        .route("/records/{id}/data/{type}", get(data::show_type))
        .route(
            "/records/{id}/data/{type}/new",
            get(entry::new_form).post(entry::create),
        )
        .route("/records/{id}/items/{item}", get(item::show))
        .route(
            "/records/{id}/items/{item}/edit",
            get(entry::edit_form).post(entry::update),
        )
        .route("/records/{id}/items/{item}/delete", post(entry::delete))
        .route("/records/{id}/items/{item}/restore", post(entry::restore))
        .route("/records/{id}/items/{item}/versions/{v}", get(item::version))
        .route("/records/{id}/items/{item}/download", get(files::download))
        .route("/records/{id}/items/{item}/view", get(files::view))
        .route(
            "/records/{id}/files",
            get(files::list)
                .post(files::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/records/{id}/profile", get(profile::show).post(profile::save))
        .route("/records/{id}/rename", post(record::rename))
        .route(
            "/records/{id}/picture",
            get(record::picture).post(record::upload_picture),
        )
        .route("/records/{id}/leave", post(record::leave))
        .route("/records/{id}/delete", post(record::delete))
        .route("/records/{id}/apps/revoke", post(apps::revoke))
        .route("/records/{id}/sharing", get(sharing::show))
        .route("/records/{id}/sharing/invite", post(sharing::invite))
        .route(
            "/records/{id}/sharing/invitations/{inv}/resend",
            post(sharing::resend),
        )
        .route(
            "/records/{id}/sharing/invitations/{inv}/cancel",
            post(sharing::cancel),
        )
        .route("/records/{id}/sharing/people/{account}", post(sharing::change))
        .route(
            "/records/{id}/sharing/people/{account}/remove",
            post(sharing::remove),
        )
        .route("/invitations/{token}", get(invitation::show))
        .route("/invitations/{token}/accept", post(invitation::accept))
        .route("/invitations/{token}/decline", post(invitation::decline))
        .route("/records/{id}/history", get(history::show))
        .route("/records/{id}/emergency", get(emergency::show))
        .route("/records/{id}/emergency/profile", post(emergency::save_profile))
        .route("/records/{id}/emergency/codes", post(emergency::create_code))
        .route(
            "/records/{id}/emergency/codes/{code}/revoke",
            post(emergency::revoke_code),
        )
        .route("/records/{id}/emergency/card", post(emergency::card))
        .route("/emergency", get(emergency::enter).post(emergency::open))
        .route("/oauth/authorize", get(consent::authorize).post(consent::decide))
}
