// XCTest of the Swift wrapper against the real library with synthetic
// devices, for a Mac (`swift test -Xlinker -L../target/release` after
// `cargo build --release --lib`) or an iOS simulator with the XCFramework.
// Not run on the Linux machine this package was written on (no Swift
// there); ios/Tests/smoke.m checks the same path through the C module.

import Dispatch
import Foundation
import XCTest
@testable import LibMedia

final class EngineTests: XCTestCase {
    func testVersionAndErrorDescriptions() {
        XCTAssertFalse(Engine.version.isEmpty)
        XCTAssertEqual(MediaError.nullArgument.rawValue, 1)
        XCTAssertFalse(MediaError.network.description.isEmpty)
        XCTAssertNotEqual(MediaError.busy.description, MediaError.badToken.description)
    }

    func testEchoTestDeliversEventsAndRemoteFramesOnTheChosenQueue() throws {
        let queue = DispatchQueue(label: "libmedia.tests.delegate")
        let key = DispatchSpecificKey<Bool>()
        queue.setSpecific(key: key, value: true)

        let recorder = Recorder(key: key, wantedRemoteFrames: 20)
        let engine = try Engine(config: .fake, delegate: recorder, queue: queue)
        try engine.startEchoTest()
        wait(for: [recorder.enoughFrames], timeout: 10)
        try engine.stopEchoTest()

        let stats = try engine.stats()
        XCTAssertGreaterThan(stats.videoFramesRendered, 0)
        queue.sync {
            XCTAssertTrue(recorder.allOnQueue, "a delegate call came on another queue")
            XCTAssertTrue(recorder.sawFirstRemoteFrame)
            XCTAssertGreaterThan(recorder.frameWidth, 0)
        }
    }

    func testMisuseThrowsTheHeadersErrors() throws {
        var config = EngineConfig.fake
        config.statsIntervalMs = 1 // a thousand events a second: refused
        XCTAssertThrowsError(try Engine(config: config)) { error in
            XCTAssertEqual(error as? MediaError, .invalidArgument)
        }
        let engine = try Engine(config: .fake)
        XCTAssertThrowsError(try engine.hangup()) { error in
            XCTAssertEqual(error as? MediaError, .invalidState)
        }
    }
}

private final class Recorder: EngineDelegate {
    let key: DispatchSpecificKey<Bool>
    let wantedRemoteFrames: Int
    let enoughFrames = XCTestExpectation(description: "remote frames")
    var allOnQueue = true
    var sawFirstRemoteFrame = false
    var remoteFrames = 0
    var frameWidth = 0

    init(key: DispatchSpecificKey<Bool>, wantedRemoteFrames: Int) {
        self.key = key
        self.wantedRemoteFrames = wantedRemoteFrames
    }

    func engine(_ engine: Engine, didReceive event: EngineEvent) {
        allOnQueue = allOnQueue && DispatchQueue.getSpecific(key: key) == true
        if case .firstRemoteVideoFrame = event {
            sawFirstRemoteFrame = true
        }
    }

    func engine(_ engine: Engine, didReceiveVideoFrame frame: VideoFrame) {
        allOnQueue = allOnQueue && DispatchQueue.getSpecific(key: key) == true
        guard frame.source == .remote else { return }
        frameWidth = frame.width
        XCTAssertEqual(frame.y.count, frame.width * frame.height)
        XCTAssertEqual(frame.u.count, frame.chromaWidth * frame.chromaHeight)
        remoteFrames += 1
        if remoteFrames == wantedRemoteFrames {
            enoughFrames.fulfill()
        }
    }
}
