//! What a unit shows after each event: one policy for the whole charm.
//!
//! The upgrade core sets the statuses of an upgrade ("other units upgrading first...",
//! "upgrade failed. Check logs for rollback instruction", "ready to rollback application",
//! "Paused: ...", "Refreshed without pre-upgrade-check: ..."). A status set here must never
//! hide one of those, so the unit's health (its instance's membership of the cluster) is
//! shown only while no upgrade is under way for it, judged from its own bag and the
//! application bag as the event left them.

use juju_upgrade::{Event, Outcome, PeerSnapshot, UnitState};

use crate::context::HookContext;
use crate::error::CharmError;
use crate::lifecycle;
use crate::peer;

/// The events after which the charm may show the unit's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// An event the upgrade core handled (its outcome, `None` without the relation).
    Upgrade(Event),
    /// `start` or `update-status`: no upgrade event ran; the bags are read here.
    OrdinaryHook,
}

/// Shows the unit's health after `event` when nothing the upgrade shows would be hidden:
///
/// - the unit went back to `idle` in the event (its upgrade round is over, or it just
///   joined): always, as Charmed MySQL runs its update-status then;
/// - `pre-upgrade-check` that succeeded on the leader (it may have just become the primary):
///   unless this unit itself takes part in an upgrade; the stack the check just wrote does not
///   count, until the refresh every unit shows its health;
/// - `leader-elected`, `config-changed`, `start`, `update-status`: unless an upgrade is under
///   way ([`PeerSnapshot::upgrade_in_progress`]: a stack, this unit past `idle`, or this unit
///   waiting for `pre-upgrade-check` after a refresh);
/// - any other upgrade event: never (the core set what the unit shows).
pub fn status_after(
    ctx: &HookContext<'_>,
    after: After,
    outcome: Option<&Outcome>,
) -> Result<(), CharmError> {
    if outcome.is_some_and(|outcome| outcome.became_idle) {
        return lifecycle::show_health(ctx);
    }
    match after {
        After::Upgrade(Event::PreUpgradeCheck) => match outcome {
            Some(outcome) if outcome.is_leader && !outcome.action_failed() => {
                show_health_unless_upgrading_here(ctx, &outcome.unit_view())
            }
            _ => Ok(()),
        },
        After::Upgrade(Event::LeaderElected | Event::ConfigChanged) => {
            show_health_if_no_upgrade(ctx, outcome.map(Outcome::unit_view).as_ref())
        }
        After::Upgrade(_) => Ok(()),
        After::OrdinaryHook => show_health_if_no_upgrade(ctx, own_view(ctx)?.as_ref()),
    }
}

/// Shows the unit's health unless `view` (this unit's bag and the application bag; `None`
/// without the relation) says an upgrade is under way.
fn show_health_if_no_upgrade(
    ctx: &HookContext<'_>,
    view: Option<&PeerSnapshot>,
) -> Result<(), CharmError> {
    // Unreadable data is the core's to report: do not paint over it.
    if view.is_some_and(|view| view.upgrade_in_progress().unwrap_or(true)) {
        log::debug!("upgrade in progress; leaving this unit's status alone");
        return Ok(());
    }
    lifecycle::show_health(ctx)
}

/// Shows the unit's health unless this unit takes part in an upgrade, as `view` says.
fn show_health_unless_upgrading_here(
    ctx: &HookContext<'_>,
    view: &PeerSnapshot,
) -> Result<(), CharmError> {
    let idle = matches!(view.own_state(), Ok(None | Some(UnitState::Idle)));
    let refresh_pending = !matches!(view.refresh_pending(view.unit), Ok(None));
    if !idle || refresh_pending {
        log::debug!("this unit takes part in an upgrade; leaving its status alone");
        return Ok(());
    }
    lifecycle::show_health(ctx)
}

/// This unit's bag and the application bag of the `upgrade` relation, or `None` without the
/// relation. The other units' bags are not read: they never make this unit show an upgrade
/// status while its own bag and the stack say it takes no part in one.
fn own_view(ctx: &HookContext<'_>) -> Result<Option<PeerSnapshot>, CharmError> {
    let Some(relation) = peer::upgrade_relation(ctx.tools)? else {
        return Ok(None);
    };
    let (own, app) = peer::own_and_app_bags(ctx.tools, &relation, ctx.app(), ctx.unit_number())?;
    let mut view = PeerSnapshot::new(ctx.app(), ctx.unit_number(), false);
    view.unit_bags.insert(ctx.unit_number(), own);
    view.app_bag = app;
    Ok(Some(view))
}
