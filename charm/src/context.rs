//! What a handler works with during one hook or action: the event, the hook tools, this
//! unit's MySQL server and what this charm revision ships.

use juju_ops::{Dispatch, HookTools};

use crate::versions::Versions;
use crate::workload::Workload;

/// Everything a handler works with during one hook or action.
pub struct HookContext<'a> {
    /// The event and the unit it runs on.
    pub dispatch: &'a Dispatch,
    /// The hook tools.
    pub tools: &'a dyn HookTools,
    /// This unit's MySQL server.
    pub workload: &'a dyn Workload,
    /// What this charm revision ships.
    pub versions: &'a Versions,
}

impl HookContext<'_> {
    /// This unit, e.g. `mysql/0`.
    pub fn unit_name(&self) -> &str {
        &self.dispatch.unit_name
    }

    /// This unit's number.
    pub fn unit_number(&self) -> u32 {
        self.dispatch.unit_number
    }

    /// The application, e.g. `mysql`.
    pub fn app(&self) -> &str {
        &self.dispatch.app_name
    }
}
