package org.libmedia

import java.io.File

/**
 * Reads the C enums of `include/media.h` and compares them with their
 * Kotlin twins. Test code: the header is read at test time, so a code
 * added to, removed from or renumbered in the header fails the tests.
 */
object HeaderEnums {
    private val enumBlock = Regex("""typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;""", RegexOption.DOT_MATCHES_ALL)
    private val entry = Regex("""^\s*([A-Z][A-Z0-9_]*)\s*(?:=\s*(-?(?:0[xX][0-9a-fA-F]+|\d+)))?\s*$""")

    /** Every `typedef enum name { ... } name;` of [header]: name to (enumerator to value), in order. */
    fun parse(header: String): Map<String, Map<String, Int>> {
        val text = header
            .replace(Regex("""/\*.*?\*/""", RegexOption.DOT_MATCHES_ALL), " ")
            .replace(Regex("""//[^\n]*"""), " ")
        val out = LinkedHashMap<String, Map<String, Int>>()
        for (m in enumBlock.findAll(text)) {
            val values = LinkedHashMap<String, Int>()
            var next = 0
            for (item in m.groupValues[2].split(',')) {
                if (item.isBlank()) continue
                val e = entry.matchEntire(item.trim())
                    ?: throw IllegalArgumentException("enum ${m.groupValues[1]}: cannot read '${item.trim()}'")
                val literal = e.groupValues[2]
                val value = when {
                    literal.isEmpty() -> next
                    literal.startsWith("0x") || literal.startsWith("0X") -> literal.substring(2).toInt(16)
                    else -> literal.toInt()
                }
                require(values.put(e.groupValues[1], value) == null) { "duplicate ${e.groupValues[1]}" }
                next = value + 1
            }
            out[m.groupValues[1]] = values
        }
        return out
    }

    /** The header's enumerators of [cEnum] named as in Kotlin: [prefix] and then [alsoStrip] removed. */
    fun kotlinNames(
        header: Map<String, Map<String, Int>>,
        cEnum: String,
        prefix: String,
        alsoStrip: String = "",
    ): Map<String, Int> {
        val values = header[cEnum] ?: throw AssertionError("media.h has no enum $cEnum")
        return values.entries.associate { (name, value) ->
            require(name.startsWith(prefix)) { "$name does not start with $prefix" }
            name.removePrefix(prefix).removePrefix(alsoStrip) to value
        }
    }

    /**
     * What differs between the header's values and Kotlin's, as readable
     * lines; empty when they match. With [subset], Kotlin may leave codes out.
     */
    fun drift(cEnum: String, header: Map<String, Int>, kotlin: Map<String, Int>, subset: Boolean = false): List<String> {
        val problems = mutableListOf<String>()
        for ((name, value) in header) {
            val k = kotlin[name]
            if (k == null && !subset) problems += "$cEnum: $name = $value is in media.h but not in Kotlin"
            if (k != null && k != value) problems += "$cEnum: $name is $value in media.h but $k in Kotlin"
        }
        for ((name, value) in kotlin) {
            if (name !in header) problems += "$cEnum: $name = $value is in Kotlin but not in media.h"
        }
        return problems
    }

    fun <E> kotlinValues(entries: List<E>): Map<String, Int> where E : Enum<E>, E : CodedEnum =
        entries.associate { it.name to it.code }

    /** include/media.h: from -Dlibmedia.header, else found upwards from the working directory. */
    fun headerFile(): File {
        System.getProperty("libmedia.header")?.let { return File(it) }
        var dir: File? = File("").absoluteFile
        while (dir != null) {
            val f = File(dir, "include/media.h")
            if (f.isFile) return f
            dir = dir.parentFile
        }
        throw AssertionError("include/media.h not found: set -Dlibmedia.header")
    }
}
