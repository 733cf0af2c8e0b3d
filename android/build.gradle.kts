// The Android library: the Kotlin wrapper (src/main/kotlin), the JNI shim
// (src/main/cpp, built by CMake for each ABI) and libmedia.so per ABI
// (src/main/jniLibs, made by scripts/build-ndk.sh with cargo-ndk).
//
// Needs the Android SDK (compileSdk 35), the NDK (ANDROID_NDK_HOME, used
// both by CMake and by cargo-ndk), Rust with the Android targets and
// cargo-ndk. Not run where it was written (no SDK, NDK or Google Maven
// there): treat versions below as a starting point. `./gradlew assembleRelease`
// gives build/outputs/aar/libmedia-android-release.aar.
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
}

android {
    namespace = "org.libmedia"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
        externalNativeBuild {
            cmake {
                arguments += listOf("-DANDROID_STL=none")
            }
        }
    }

    externalNativeBuild {
        cmake {
            path = file("src/main/cpp/CMakeLists.txt")
            version = "3.22.1"
        }
    }

    sourceSets {
        getByName("main") {
            // src/android: the parts that need Android classes (AudioRecord,
            // CameraX, permissions, audio focus); the rest also runs on a
            // desktop JVM.
            java.srcDirs("src/main/kotlin", "src/android/kotlin")
            jniLibs.srcDirs("src/main/jniLibs")
        }
        getByName("test") {
            java.srcDirs("src/test/kotlin")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    testOptions {
        // The JVM unit tests load the host build of the shim and libmedia.so
        // that scripts/test-jvm.sh leaves in build/jvm-test/native.
        unitTests.all {
            it.systemProperty("java.library.path", file("build/jvm-test/native").absolutePath)
            it.systemProperty("libmedia.header", file("../include/media.h").absolutePath)
        }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation("androidx.core:core-ktx:1.15.0")
    implementation("androidx.camera:camera-camera2:1.4.1")
    implementation("androidx.camera:camera-lifecycle:1.4.1")
    testImplementation("junit:junit:4.13.2")
}

// libmedia.so for every ABI, before CMake links the shim against it.
val cargoNdk by tasks.registering(Exec::class) {
    description = "Builds libmedia.so per ABI with cargo-ndk (needs the NDK)"
    workingDir = projectDir
    commandLine("bash", "scripts/build-ndk.sh")
}
tasks.named("preBuild") {
    dependsOn(cargoNdk)
}
