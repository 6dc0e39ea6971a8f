import Crypto
public import Foundation

/// The administrator's bearer token: made on first start, kept at `DATA/admin.token`
/// with mode 0600, read back on later starts.
public enum AdminToken {
    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case tooOpen(String)
        public var description: String {
            switch self {
            case .unreadable(let path, let why): "cannot read or create the admin token \(path): \(why)"
            case .tooOpen(let path): "\(path) is readable by others; run: chmod 600 \(path)"
            }
        }
    }

    public static func loadOrCreate(in directory: URL) throws -> String {
        let url = directory.appendingPathComponent("admin.token")
        let path = url.path
        let files = FileManager.default
        if files.fileExists(atPath: path) {
            if let mode = (try? files.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw Failure.tooOpen(path)
            }
            do {
                let token = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard token.count >= 16 else { throw Failure.unreadable(path, "the token is shorter than 16 characters") }
                return token
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure.unreadable(path, "\(error.localizedDescription)")
            }
        }
        let token = SymmetricKey(size: .bits256).withUnsafeBytes { bytes in
            bytes.map { String(format: "%02x", $0) }.joined()
        }
        guard files.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure.unreadable(path, "the data folder is not writable")
        }
        return token
    }
}
