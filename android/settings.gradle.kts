// Gradle settings for the Android library (org.libmedia). Needs the Android
// SDK and NDK and access to Google's Maven and Maven Central; none of these
// was available where this file was written, so it has not been run (see
// README.md). The desktop-JVM tests run without Gradle: scripts/test-jvm.sh.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "libmedia-android"
