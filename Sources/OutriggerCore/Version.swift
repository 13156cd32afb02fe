/// Outrigger's own version.
public enum OutriggerVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
