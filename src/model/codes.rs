//! Outcome codes: the service's error names, rejection reasons and consistency levels.

/// Why a backup or restore attempt failed. Names are the service's own where one exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// VM agent missing or not answering on a running VM.
    UserErrorGuestAgentStatusUnavailable,
    /// An installed VM agent (or its extension) does not report its status: the agent is
    /// stopped or hung.
    VmAgentStatusCommunicationError,
    /// Snapshot HTTP requests to the storage endpoint timed out (no connectivity).
    ExtensionSnapshotFailedNoNetwork,
    /// Snapshot sub-task timed out.
    GuestAgentSnapshotTaskStatusError,
    /// Extension install failed or was killed.
    ExtensionOperationFailed,
    /// Another job is running on the VM.
    UserErrorBackupOperationInProgress,
    /// A disk exceeds the size limit.
    UserErrorUnsupportedDiskSize,
    /// Transient internal or storage error.
    BackUpOperationFailed,
    /// The extension would have to be installed on a VM that is not running.
    AzureVmOffline,
    /// A restore of a VM with no recovery point.
    NoRecoveryPoint,
}

impl Code {
    /// Every code.
    pub const ALL: [Code; 10] = [
        Code::UserErrorGuestAgentStatusUnavailable,
        Code::VmAgentStatusCommunicationError,
        Code::ExtensionSnapshotFailedNoNetwork,
        Code::GuestAgentSnapshotTaskStatusError,
        Code::ExtensionOperationFailed,
        Code::UserErrorBackupOperationInProgress,
        Code::UserErrorUnsupportedDiskSize,
        Code::BackUpOperationFailed,
        Code::AzureVmOffline,
        Code::NoRecoveryPoint,
    ];

    /// The code as reported.
    pub fn name(self) -> &'static str {
        match self {
            Code::UserErrorGuestAgentStatusUnavailable => "UserErrorGuestAgentStatusUnavailable",
            Code::VmAgentStatusCommunicationError => "VMAgentStatusCommunicationError",
            Code::ExtensionSnapshotFailedNoNetwork => "ExtensionSnapshotFailedNoNetwork",
            Code::GuestAgentSnapshotTaskStatusError => "GuestAgentSnapshotTaskStatusError",
            Code::ExtensionOperationFailed => "ExtensionOperationFailed",
            Code::UserErrorBackupOperationInProgress => "UserErrorBackupOperationInProgress",
            Code::UserErrorUnsupportedDiskSize => "UserErrorUnsupportedDiskSize",
            Code::BackUpOperationFailed => "BackUpOperationFailed",
            Code::AzureVmOffline => "AzureVmOffline",
            Code::NoRecoveryPoint => "NoRecoveryPoint",
        }
    }

    /// Whether a policy's `retries` apply: transient and infrastructure failures are
    /// retried; `UserError*` codes need the user to act and are not.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Code::VmAgentStatusCommunicationError
                | Code::ExtensionSnapshotFailedNoNetwork
                | Code::GuestAgentSnapshotTaskStatusError
                | Code::ExtensionOperationFailed
                | Code::BackUpOperationFailed
                | Code::AzureVmOffline
        )
    }
}

/// Why a restore was rejected before it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    /// Restore over an existing VM whose disks were not deleted.
    ReplaceExistingNotSupported,
    /// Target region differs from the vault's.
    CrossRegionRestoreNotSupported,
    /// Multi-DC domain controller through the portal workflow.
    DomainControllerRequiresPowerShell,
}

impl Rejection {
    /// Every reason.
    pub const ALL: [Rejection; 3] = [
        Rejection::ReplaceExistingNotSupported,
        Rejection::CrossRegionRestoreNotSupported,
        Rejection::DomainControllerRequiresPowerShell,
    ];

    /// The reason as reported.
    pub fn name(self) -> &'static str {
        match self {
            Rejection::ReplaceExistingNotSupported => "ReplaceExistingNotSupported",
            Rejection::CrossRegionRestoreNotSupported => "CrossRegionRestoreNotSupported",
            Rejection::DomainControllerRequiresPowerShell => "DomainControllerRequiresPowerShell",
        }
    }
}

/// Consistency of a recovery point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Running Windows, all VSS writers succeeded.
    Application,
    /// Running Linux, or Windows with some VSS writers failing.
    FileSystem,
    /// Offline (stopped) VM.
    Crash,
}

impl Consistency {
    /// The metric name part.
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Application => "application",
            Consistency::FileSystem => "file_system",
            Consistency::Crash => "crash",
        }
    }
}
