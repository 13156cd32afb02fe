import CCurl
import Glibc

/// What the worker knows of one curl socket: the directions epoll watches and the ones curl last asked for.
struct SocketWatch {
    /// `watched` has this bit while the socket is in the epoll set.
    static let registered: UInt8 = 0x80
    /// The direction bits (`CURL_POLL_IN | CURL_POLL_OUT`).
    static let directions: UInt8 = 0x03

    /// Directions in the epoll set, plus `registered`; 0 when not in the set.
    var watched: UInt8 = 0
    /// Directions curl wants; 0 after `CURL_POLL_REMOVE`.
    var wanted: UInt8 = 0
}

// libcurl's multi-socket callbacks. They run on the worker thread, inside the curl calls the worker makes.

/// CURLMOPT_SOCKETFUNCTION.
let workerSocketCallback: ccurl_socket_callback = { _, fd, what, userp, _ in
    guard let userp else { return -1 }
    Unmanaged<CurlWorker>.fromOpaque(userp).takeUnretainedValue().curlWatch(fd, what: what)
    return 0
}

/// CURLMOPT_TIMERFUNCTION.
let workerTimerCallback: ccurl_timer_callback = { _, milliseconds, userp in
    guard let userp else { return -1 }
    Unmanaged<CurlWorker>.fromOpaque(userp).takeUnretainedValue().curlSetTimer(milliseconds: milliseconds)
    return 0
}

/// CURLOPT_OPENSOCKETFUNCTION: opens the socket as curl would (plus close-on-exec) and voids what the worker
/// remembered of an earlier socket with the same number.
let workerOpenSocketCallback: ccurl_opensocket_callback = { clientp, _, address in
    guard let clientp, let address else { return -1 }
    let fd = socket(
        address.pointee.family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
    if fd >= 0 { Unmanaged<CurlWorker>.fromOpaque(clientp).takeUnretainedValue().curlSocketOpened(fd) }
    return fd
}
