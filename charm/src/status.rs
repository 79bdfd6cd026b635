//! What a unit shows after each event: one policy for the whole charm.
//!
//! The upgrade core sets the statuses of an upgrade ("other units upgrading first...",
//! "upgrade failed. Check logs for rollback instruction", "ready to rollback application",
//! "Paused: ...", "Refreshed without pre-upgrade-check: ..."). A status set here must never
//! hide one of those, so the unit's health (its instance's membership of the cluster) is
//! shown only while no upgrade is under way for it, judged from its own bag and the
//! application bag as the event left them.

use juju_ops::Status;
use juju_upgrade::{messages, Event, Outcome, PeerSnapshot, UnitState};

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
///   unless this unit itself takes part in an upgrade;
/// - a unit in `recovery` that no longer leads (leadership moved after the check prepared
///   the rollback): waiting for the refresh back, not "ready to rollback application";
/// - a unit waiting for `pre-upgrade-check` after a refresh: its health instead of that
///   wait, but only when the workload has a problem (the check would fail on it);
/// - `upgrade-charm`: never (the core set what the unit shows);
/// - any other event, `start` and `update-status` included: when this unit takes no part in
///   an upgrade yet ([`takes_no_part_yet`]) and the core set no status of its own in the
///   event. So a unit whose role changed (the check moved the primary to the leader) or whose
///   server recovered shows it at its next hook, also while an upgrade is prepared.
pub fn status_after(
    ctx: &HookContext<'_>,
    after: After,
    outcome: Option<&Outcome>,
) -> Result<(), CharmError> {
    if outcome.is_some_and(|outcome| outcome.became_idle) {
        return lifecycle::show_health(ctx);
    }
    let view = match (after, outcome) {
        (After::Upgrade(_), Some(outcome)) => Some(outcome.unit_view()),
        (After::Upgrade(_), None) => None,
        (After::OrdinaryHook, _) => own_view(ctx)?,
    };
    if let Some(view) = view.as_ref().filter(|view| in_recovery(view)) {
        let core_set_one = outcome.is_some_and(|outcome| outcome.unit_status.is_some());
        let leads = match outcome {
            Some(outcome) => outcome.is_leader,
            None => ctx.tools.is_leader()?,
        };
        if !leads && !core_set_one {
            // "ready to rollback application" is the leader's; this unit no longer is.
            log::debug!(
                "{} is in recovery but no longer leads",
                view.unit_name(view.unit)
            );
            ctx.tools
                .status_set(&Status::waiting(messages::RECOVERY_LEADER_MOVED))?;
        }
        return Ok(());
    }
    if view.as_ref().is_some_and(waits_for_pre_upgrade_check) {
        // "Refreshed without pre-upgrade-check" names a check a stopped server fails: the
        // server's problem is shown instead until it is solved.
        lifecycle::show_health_if_unwell(ctx)?;
        return Ok(());
    }
    match after {
        After::Upgrade(Event::PreUpgradeCheck) => match outcome {
            Some(outcome) if outcome.is_leader && !outcome.action_failed() => {
                show_health_unless_upgrading_here(ctx, &outcome.unit_view())
            }
            _ => Ok(()),
        },
        // After a refresh the core says what the unit does (v0 only logs a refresh nobody
        // prepared); the next hook shows the health of a unit that takes no part.
        After::Upgrade(Event::UpgradeCharm) => Ok(()),
        After::Upgrade(_) => match outcome {
            Some(outcome) if outcome.unit_status.is_some() => Ok(()),
            Some(outcome) => show_health_if_no_part(ctx, Some(&outcome.unit_view())),
            None => show_health_if_no_part(ctx, None),
        },
        After::OrdinaryHook => show_health_if_no_part(ctx, view.as_ref()),
    }
}

/// Whether the unit whose own bag and the application bag `view` holds takes no part in an
/// upgrade yet: `idle` (or not yet joined), not waiting with a refreshed charm, and either no
/// stack or a stack no refresh has reached yet (no round target recorded). Unreadable data
/// counts as taking part: the core reports it, and nothing paints over that.
pub fn takes_no_part_yet(view: &PeerSnapshot) -> bool {
    let idle = matches!(view.own_state(), Ok(None | Some(UnitState::Idle)));
    let refresh_pending = !matches!(view.refresh_pending(view.unit), Ok(None));
    let not_refreshed = match view.upgrade_stack() {
        Ok(stack) if stack.is_empty() => true,
        Ok(_) => matches!(view.upgrade_target(), Ok(None)),
        Err(_) => false,
    };
    idle && !refresh_pending && not_refreshed
}

/// Whether this unit's own state is `recovery` (only a leader's `pre-upgrade-check` enters it).
fn in_recovery(view: &PeerSnapshot) -> bool {
    matches!(view.own_state(), Ok(Some(UnitState::Recovery)))
}

/// Whether this unit runs a refreshed charm that waits for `pre-upgrade-check` (idle, with a
/// refresh pending in its bag).
fn waits_for_pre_upgrade_check(view: &PeerSnapshot) -> bool {
    matches!(view.own_state(), Ok(None | Some(UnitState::Idle)))
        && matches!(view.refresh_pending(view.unit), Ok(Some(_)))
}

/// Shows the unit's health if `view` (`None` without the relation) says this unit takes no
/// part in an upgrade yet.
fn show_health_if_no_part(
    ctx: &HookContext<'_>,
    view: Option<&PeerSnapshot>,
) -> Result<(), CharmError> {
    if view.is_some_and(|view| !takes_no_part_yet(view)) {
        log::debug!("this unit takes part in an upgrade; leaving its status alone");
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
