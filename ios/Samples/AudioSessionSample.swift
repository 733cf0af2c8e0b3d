// AudioSessionSample.swift — a SKETCH of an iOS host app around LibMedia.
//
// Not compiled anywhere yet (no Swift compiler on the machine this was
// written on; it is not part of Package.swift). Copy what you need into an
// app target and expect to adjust it; check on a device:
//  - the rotation table in `CameraCapture.rotation(for:position:)`,
//  - that the engine's audio (cpal's Core Audio backend inside the Rust
//    library) behaves under the host's AVAudioSession: the iOS build of
//    libmedia itself is not verified yet (ios/README.md).
//
// What it shows:
//  1. The host owns AVAudioSession: category `.playAndRecord`, mode
//     `.voiceChat` (the system's voice processing: echo cancellation,
//     gain control). The engine opens its audio only when told
//     (`startLocalAudio`), which CallKit decides: in
//     `provider(_:didActivate:)`, never before.
//  2. Interruptions (a phone call, Siri) stop and restart the engine's
//     audio without ending the call.
//  3. The host owns AVCaptureSession and pushes NV12 camera frames with
//     `Engine.pushVideoFrame(_:rotation:timestampUs:)` (the engine is made
//     with `videoInput = .external`). This part uses the real API
//     (`media_engine_push_video_frame`).
//  4. What is NOT in the engine yet: pushing microphone PCM and pulling
//     speaker PCM (so the host could run VoiceProcessingIO itself). The
//     header (include/media.h) has no such functions today; the sketch of
//     that upcoming path below is in comments only and names no function.

import AVFoundation
import CallKit
import LibMedia
import UIKit

// MARK: - Audio session and CallKit

/// Owns the audio session and the CallKit provider for one engine.
final class CallController: NSObject, CXProviderDelegate, EngineDelegate {
    private let provider: CXProvider
    private let callController = CXCallController()
    private var engine: Engine?
    private let camera = CameraCapture()
    /// CallKit's UUID for the call libmedia knows by `callId`.
    private var calls: [UUID: String] = [:]

    override init() {
        let configuration = CXProviderConfiguration()
        configuration.supportsVideo = true
        configuration.maximumCallsPerCallGroup = 1
        configuration.supportedHandleTypes = [.generic]
        provider = CXProvider(configuration: configuration)
        super.init()
        provider.setDelegate(self, queue: nil) // the main queue

        var config = EngineConfig.systemDevices
        config.videoInput = .external // the host's AVCaptureSession feeds video
        do {
            engine = try Engine(config: config, delegate: self, queue: .main)
        } catch {
            print("libmedia: \(error) \(MediaError.lastFailureDetail() ?? "")")
        }
        camera.engine = engine

        NotificationCenter.default.addObserver(
            self, selector: #selector(audioSessionInterrupted(_:)),
            name: AVAudioSession.interruptionNotification,
            object: AVAudioSession.sharedInstance())
    }

    /// Category and mode only; CallKit activates the session.
    private func configureAudioSession() {
        let session = AVAudioSession.sharedInstance()
        do {
            try session.setCategory(.playAndRecord, mode: .voiceChat,
                                    options: [.allowBluetooth, .allowBluetoothA2DP])
            try session.setPreferredSampleRate(48_000)     // Opus runs at 48 kHz
            try session.setPreferredIOBufferDuration(0.02) // 20 ms, one Opus frame
        } catch {
            print("audio session: \(error)")
        }
    }

    // MARK: Placing and answering calls

    func connect(url: String, appId: String, userId: String, token: String) {
        let server = ServerConfig(url: url, appId: appId, userId: userId, token: token)
        do {
            try engine?.connect(server: server)
        } catch {
            print("connect: \(error)")
        }
    }

    /// Outgoing: ask CallKit first; the engine calls in `perform CXStartCallAction`.
    func startCall(to userId: String, video: Bool) {
        let handle = CXHandle(type: .generic, value: userId)
        let action = CXStartCallAction(call: UUID(), handle: handle)
        action.isVideo = video
        callController.request(CXTransaction(action: action)) { error in
            if let error = error {
                print("CallKit refused the call: \(error)")
            }
        }
    }

    func provider(_ provider: CXProvider, perform action: CXStartCallAction) {
        configureAudioSession()
        do {
            let callId = try engine?.call(action.handle.value, video: action.isVideo)
            calls[action.callUUID] = callId
            action.fulfill()
        } catch {
            action.fail()
        }
    }

    func provider(_ provider: CXProvider, perform action: CXAnswerCallAction) {
        configureAudioSession()
        guard let callId = calls[action.callUUID] else {
            action.fail()
            return
        }
        do {
            try engine?.accept(callId: callId)
            action.fulfill()
        } catch {
            action.fail()
        }
    }

    func provider(_ provider: CXProvider, perform action: CXEndCallAction) {
        // Ringing and not answered: reject; otherwise hang up.
        if let callId = calls.removeValue(forKey: action.callUUID) {
            try? engine?.reject(callId: callId)
        }
        try? engine?.hangup()
        camera.stop()
        action.fulfill()
    }

    func provider(_ provider: CXProvider, perform action: CXSetMutedCallAction) {
        do {
            try engine?.muteLocalAudio(action.isMuted)
            action.fulfill()
        } catch {
            action.fail()
        }
    }

    func providerDidReset(_ provider: CXProvider) {
        try? engine?.hangup()
        try? engine?.stopLocalAudio()
        camera.stop()
        calls.removeAll()
    }

    // MARK: Audio starts only when CallKit says so

    func provider(_ provider: CXProvider, didActivate audioSession: AVAudioSession) {
        do {
            try engine?.startLocalAudio()
        } catch {
            print("audio: \(error)")
        }
    }

    func provider(_ provider: CXProvider, didDeactivate audioSession: AVAudioSession) {
        try? engine?.stopLocalAudio()
    }

    /// A phone call or Siri takes the audio: pause the engine's audio I/O,
    /// keep the call, resume when the system says so.
    @objc private func audioSessionInterrupted(_ note: Notification) {
        guard let raw = note.userInfo?[AVAudioSessionInterruptionTypeKey] as? UInt,
              let type = AVAudioSession.InterruptionType(rawValue: raw) else { return }
        switch type {
        case .began:
            try? engine?.stopLocalAudio()
        case .ended:
            let options = (note.userInfo?[AVAudioSessionInterruptionOptionKey] as? UInt)
                .map(AVAudioSession.InterruptionOptions.init(rawValue:)) ?? []
            if options.contains(.shouldResume) {
                try? engine?.startLocalAudio()
            }
        @unknown default:
            break
        }
    }

    // MARK: EngineDelegate (on the main queue, as chosen above)

    func engine(_ engine: Engine, didReceive event: EngineEvent) {
        switch event {
        case .call(let update) where update.progress == .incoming:
            // Report to CallKit; the engine accepts in `perform CXAnswerCallAction`.
            let uuid = UUID()
            calls[uuid] = update.callId
            let callUpdate = CXCallUpdate()
            callUpdate.remoteHandle = CXHandle(type: .generic, value: update.userId ?? "")
            callUpdate.localizedCallerName = update.nickname
            callUpdate.hasVideo = update.video
            provider.reportNewIncomingCall(with: uuid, update: callUpdate) { error in
                if error != nil {
                    try? engine.reject(callId: update.callId ?? "")
                }
            }
        case .call(let update) where update.progress == .accepted:
            camera.start()
        case .call(let update) where update.progress == .ended:
            if let uuid = calls.first(where: { $0.value == update.callId })?.key {
                provider.reportCall(with: uuid, endedAt: nil, reason: .remoteEnded)
                calls.removeValue(forKey: uuid)
            }
            camera.stop()
        case .error(let error, let message):
            print("libmedia error \(String(describing: error)): \(message)")
        default:
            break
        }
    }

    func engine(_ engine: Engine, didReceiveVideoFrame frame: VideoFrame) {
        // Render frame.y / .u / .v (tightly packed I420), e.g. into a
        // CVPixelBuffer for an AVSampleBufferDisplayLayer, or use
        // `engine.frameHandler` to convert on the render thread without
        // the copy.
    }
}

// MARK: - Camera: the host's AVCaptureSession pushes into the engine

final class CameraCapture: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    weak var engine: Engine?
    private let session = AVCaptureSession()
    private let queue = DispatchQueue(label: "camera.frames")
    private var position: AVCaptureDevice.Position = .front
    private var configured = false

    func start() {
        queue.async { [self] in
            if !configured {
                configure()
            }
            if !session.isRunning {
                session.startRunning()
            }
        }
    }

    func stop() {
        queue.async { [self] in
            if session.isRunning {
                session.stopRunning()
            }
        }
    }

    private func configure() {
        session.beginConfiguration()
        session.sessionPreset = .vga640x480
        if let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: position),
           let input = try? AVCaptureDeviceInput(device: device),
           session.canAddInput(input) {
            session.addInput(input)
        }
        let output = AVCaptureVideoDataOutput()
        // NV12: what media_pixel_format calls MEDIA_PIXEL_NV12, pushed without a copy.
        output.videoSettings = [
            kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
        ]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: queue)
        if session.canAddOutput(output) {
            session.addOutput(output)
        }
        session.commitConfiguration()
        configured = true
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let time = CMTimeConvertScale(CMSampleBufferGetPresentationTimeStamp(sampleBuffer),
                                      timescale: 1_000_000, method: .default)
        let rotation = CameraCapture.rotation(for: UIDevice.current.orientation, position: position)
        // Called on the capture queue at the camera's rate; the engine reads
        // the planes before it returns.
        try? engine?.pushVideoFrame(pixelBuffer, rotation: rotation,
                                    timestampUs: UInt64(clamping: time.value))
    }

    /// Clockwise degrees that make the sensor's picture upright. The
    /// sensors store landscape rows; TO CHECK ON A DEVICE (front cameras
    /// are also mirrored, which the engine does not undo).
    static func rotation(for orientation: UIDeviceOrientation,
                         position: AVCaptureDevice.Position) -> UInt32 {
        switch orientation {
        case .portrait: return 90
        case .portraitUpsideDown: return 270
        case .landscapeLeft: return position == .front ? 180 : 0
        case .landscapeRight: return position == .front ? 0 : 180
        default: return 90
        }
    }
}

// MARK: - Upcoming: host-owned audio I/O (NOT in the engine yet)
//
// DESIGN.md plans for the host to own the audio device on phones: run
// VoiceProcessingIO (AVAudioEngine with `inputNode.setVoiceProcessingEnabled(true)`)
// at 48 kHz mono, push each 10-20 ms of microphone PCM into the engine and
// pull the speaker's PCM from it in the render callback. include/media.h
// has no functions for that today, so this sample cannot call any: until
// they exist, the engine opens the microphone and speaker itself
// (`startLocalAudio`) inside the AVAudioSession configured above. When the
// header gains them, the shape will be:
//
//   config.audioInput  = <an external audio input, not in the header yet>
//   config.audioOutput = <an external audio output, not in the header yet>
//   input tap (10 ms, Int16 or Float32 mono 48 kHz) -> engine push (copying)
//   output source node render callback              -> engine pull (filling)
//
// and ios/scripts/check-drift.py will ask for their Swift twins.
